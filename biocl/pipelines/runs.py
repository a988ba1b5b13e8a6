"""Run directories: the folder a protocol run writes, its lock, its metrics log and results.

Layout of a run directory::

    RUN_DIR/
      protocol.resolved.yaml   the protocol after overrides, with its sha256
      metrics.jsonl            one JSON object per logged step/epoch
      checkpoints/             last and best checkpoints (see biocl.train.checkpoint)
      results.json             the machine-readable contract read by reports and scripts
      report.html, report.json the evaluation report
      .lock                    held while a process writes here
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biocl.utils.cache import default_cache_dir
from biocl.utils.console import run_log
from biocl.utils.errors import BioclError
from biocl.utils.io import write_json, write_text
from biocl.protocols.base import Protocol, protocol_to_yaml

__all__ = ["RunContext", "PipelineResult", "environment_info", "default_run_dir", "live_lock_holder", "RESULTS_FILE"]

RESULTS_FILE = "results.json"


@dataclass
class PipelineResult:
    """What a pipeline hands back; the run turns it into ``results.json``.

    Attributes
    ----------
    metrics : dict
        Every reported number of the trained model, by name.
    baselines : dict
        ``{baseline name: {metric: value}}`` scored on the same test data.
    data : dict
        Provenance: ``simulated`` (bool), ``description``, ``sha256``, ``source``, ``licence``.
    primary_unit_values : list of float
        The primary metric per resampling unit (subject, sequence, clip), for the bootstrap CI.
        Its mean must equal ``metrics[acceptance.metric]`` (weighted means: pass ``primary_unit_weights``).
    primary_unit_ids : list of str | None
        The identifier of each unit (subject id, sequence id, clip name), in the order of
        ``primary_unit_values``; ``biocl report compare`` pairs two runs' units by these ids.
    primary_ci, primary_ci_method : (float, float) | None, str | None
        An interval the pipeline computed itself, with how, for a metric that is not a mean
        over units (the ARI of a clustering, resampled by species); the unit values are then
        reported but not averaged.
    details : dict
        Report material: ``flow``, ``exclusions``, ``disjointness``, ``subgroups``,
        ``worst_cases``, ``model``, ``checkpoint``, ``permutation_test``, ``figures``, ...
    """

    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    data: dict[str, Any]
    primary_unit_values: list[float] = field(default_factory=list)
    primary_unit_weights: list[float] | None = None
    primary_unit_ids: list[str] | None = None
    primary_ci: tuple[float, float] | None = None
    primary_ci_method: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def default_run_dir(protocol: Protocol, root: str | Path = "runs") -> Path:
    """``runs/<name>-<UTC timestamp>/``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path(root) / f"{protocol.name}-{stamp}"


class RunContext:
    """An open run directory: holds the lock, logs metrics, writes results.

    Use as a context manager; the lock file is removed on exit. A second process that
    tries to open the same folder while the lock is held gets a :class:`BioclError`.
    A lock left by a process that no longer exists (killed) is taken over.
    """

    def __init__(self, run_dir: str | Path, protocol: Protocol, *, rank: int = 0, resume: bool = False):
        self.run_dir = Path(run_dir)
        self.protocol = protocol
        self.rank = rank
        self.resume = resume
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.cache_dir = default_cache_dir()
        self._lock_path = self.run_dir / ".lock"
        self._started = time.perf_counter()
        self._locked = False
        self._created = False
        self._log: contextlib.AbstractContextManager | None = None

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0 (the one that writes shared files)."""
        return self.rank == 0

    def __enter__(self) -> RunContext:
        if self.run_dir.exists() and not self.resume and self.is_main:
            if (self.run_dir / RESULTS_FILE).exists() or (self.run_dir / "metrics.jsonl").exists():
                raise BioclError("the run folder already holds a run", path=self.run_dir,
                                 hint="choose another --out, or pass --resume to continue it")
        self._created = self.is_main and not self.run_dir.exists()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_dir.mkdir(exist_ok=True)
        if self.is_main:
            self._acquire_lock()
            self._log = run_log(self.run_dir)
            self._log.__enter__()
            resolved = f"# sha256 of the protocol file: {self.protocol.sha256}\n" + protocol_to_yaml(self.protocol)
            write_text(self.run_dir / "protocol.resolved.yaml", resolved)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self._log is not None:  # close run.log before a failed, empty folder is removed
            self._log.__exit__(exc_type, *exc)
            self._log = None
        # A run that failed before it logged or checkpointed anything leaves no folder behind:
        # a half-made run folder would look like a run to resume.
        if exc_type is not None and self._created and not self._holds_work():
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self._locked = False
        if self._locked:
            self._lock_path.unlink(missing_ok=True)
            self._locked = False

    def _holds_work(self) -> bool:
        """Whether the folder holds anything a resumed run could use (metrics or checkpoints)."""
        return (self.run_dir / "metrics.jsonl").exists() or any(self.checkpoint_dir.glob("*"))

    def _acquire_lock(self) -> None:
        try:
            fd = os.open(self._lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = live_lock_holder(self.run_dir)
            if holder is not None:
                raise BioclError(f"the run folder is in use by process {holder}", path=self.run_dir,
                                 hint="wait for it to finish or choose another --out") from None
            self._lock_path.unlink(missing_ok=True)
            fd = os.open(self._lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        self._locked = True

    def log_metrics(self, record: dict[str, Any]) -> None:
        """Append one record to ``metrics.jsonl`` (rank 0 only)."""
        if not self.is_main:
            return
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=float) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        """All records of ``metrics.jsonl`` (a torn last line from a kill is skipped)."""
        path = self.run_dir / "metrics.jsonl"
        if not path.exists():
            return []
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def elapsed_s(self) -> float:
        """Seconds since the run context was created."""
        return time.perf_counter() - self._started

    def write_results(self, results: dict[str, Any]) -> Path:
        """Write ``results.json`` atomically."""
        return write_json(self.run_dir / RESULTS_FILE, results)


def live_lock_holder(run_dir: str | Path) -> int | None:
    """The live process whose ``.lock`` holds ``run_dir``, or None (no lock, or a dead process's)."""
    try:
        pid = int((Path(run_dir) / ".lock").read_text().strip())
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        return pid
    return pid


def environment_info(device: str = "cpu") -> dict[str, Any]:
    """Versions, git commit, hardware: the reproducibility block of ``results.json``."""
    import numpy
    import sklearn
    import torch

    import biocl

    return {
        "biocl": biocl.__version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit_learn": sklearn.__version__,
        "device": device,
        "cuda_device": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
    }


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return "unknown"
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    return commit + ("-dirty" if dirty else "")
