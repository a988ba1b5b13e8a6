"""Gathered losses on 1, 2 and 4 CPU processes give the gradients of one process on the whole batch.

Each world size is launched once (gloo on the loopback device) and runs every gathering loss; see
``heads_parity_worker.py`` for the cases. What is compared, per the convention in
:mod:`biocl.heads.distributed`:

* the loss averaged over ranks equals the whole-batch loss;
* replicated parameters (the encoder standing in for the model, a learnable logit scale),
  their gradients averaged over ranks as DDP does, equal the single-process gradients;
* each rank's gradient on its own input rows equals ``W`` times the single-process
  gradient: the factor DDP's averaging divides out (which the encoder check proves).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import heads_parity_worker as worker  # noqa: E402

WORLD_SIZES = (1, 2, 4)
ATOL = 1e-6
SCALED_CASES = ("clip_both_learnable_scale", "clip_both_symmetric_masked", "tnce_symmetric")
WORKER = Path(worker.__file__)
TIMEOUT_S = 300

_RESULTS: dict = {}


def _log_tails(out_dir: Path, world_size: int) -> str:
    parts = []
    for rank in range(world_size):
        log = out_dir / f"rank{rank}.log"
        text = log.read_text(errors="replace") if log.exists() else "(no log)"
        parts.append(f"--- rank {rank} ---\n{text[-3000:]}")
    return "\n".join(parts)


@dataclass
class _Failure:
    """A launch that did not finish: what happened, and whether the runtime rather than Python ended it."""

    message: str
    runtime_crash: bool  # a rank was killed by a signal (an abort in torch's C++), and nothing timed out


def _wait(procs: list[subprocess.Popen]) -> tuple[list[int | None], bool]:
    """Wait for every rank; once one fails (an error or a signal) the others are stopped (they would wait for it)."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        codes = [proc.poll() for proc in procs]
        if all(code is not None for code in codes) or any(code not in (None, 0) for code in codes):
            break
        time.sleep(0.05)
    timed_out = time.monotonic() >= deadline
    first = [proc.poll() for proc in procs]
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return first, timed_out


def _launch(world_size: int, out_dir: Path) -> dict | _Failure:
    """Run the worker on ``world_size`` ranks (gloo on the loopback device, a file store).

    Returns the combined results, or what went wrong with every rank's log. A rank that
    crashes only after every rank passed the last barrier proved what it had to, so that
    case is a warning, not a failure.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    store = out_dir / "store"
    logs = [open(out_dir / f"rank{rank}.log", "wb") for rank in range(world_size)]
    try:
        procs = [subprocess.Popen([sys.executable, str(WORKER), str(rank), str(world_size), str(store), str(out_dir)],
                                  stdout=log, stderr=subprocess.STDOUT, env=env) for rank, log in enumerate(logs)]
        codes, timed_out = _wait(procs)
    finally:
        for log in logs:
            log.close()
    finished = all((out_dir / f"rank{rank}.done").exists() for rank in range(world_size))
    if finished and (out_dir / "results.pt").exists():
        if any(codes):
            warnings.warn(f"W={world_size}: exit codes {codes} after every rank finished\n"
                          f"{_log_tails(out_dir, world_size)}", stacklevel=1)
        return torch.load(out_dir / "results.pt", weights_only=True)
    crash = not timed_out and any(code is not None and code < 0 for code in codes)
    state = "timed out" if timed_out else "ended"
    return _Failure(f"{state}; exit codes {codes} (negative: the signal; None: stopped after another rank died)\n"
                    f"{_log_tails(out_dir, world_size)}", crash)


def _spawned(world_size: int, tmp_dir: Path) -> dict:
    """Results of one launch per world size, shared by the tests.

    A Python error, a wrong result or a hang fails. A rank killed by a signal before the end
    (an abort inside torch's gloo, as CI once saw at W=4) is retried once; twice is reported
    as a skip with every rank's log: the runtime, not the code under test, ended the run.
    """
    if world_size not in _RESULTS:
        result = _launch(world_size, tmp_dir / f"world{world_size}")
        if isinstance(result, _Failure) and result.runtime_crash:
            first = result
            result = _launch(world_size, tmp_dir / f"world{world_size}-again")
            if isinstance(result, _Failure) and result.runtime_crash:
                result.message = f"{first.message}\n--- again ---\n{result.message}"
        _RESULTS[world_size] = result
    result = _RESULTS[world_size]
    if isinstance(result, _Failure):
        if result.runtime_crash:
            pytest.skip(f"gloo's runtime killed a rank twice at W={world_size} (not a Python error):\n{result.message}")
        pytest.fail(f"running {world_size} processes failed:\n{result.message}")
    return result


@functools.cache
def _reference(world_size: int) -> dict:
    return worker.reference(world_size)


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("parity")


@pytest.mark.parametrize("world_size", WORLD_SIZES)
@pytest.mark.parametrize("case", sorted(worker.CASES))
def test_gradients_match_one_process(case: str, world_size: int, results_dir: Path) -> None:
    got = _spawned(world_size, results_dir)[case]
    want = _reference(world_size)[case]
    assert set(got) == set(want)
    if case in SCALED_CASES:
        assert "param.loss.logit_scale.log_scale" in want
    for key, expected in want.items():
        value = got[key]
        if key.startswith("input."):
            value = value / world_size
        assert value.shape == expected.shape, key
        torch.testing.assert_close(value, expected, atol=ATOL, rtol=0, msg=f"{case} W={world_size} {key}")
        assert float(expected.abs().max()) > 1e-3, f"{case} {key}: a vanishing gradient proves nothing"


@pytest.mark.parametrize("world_size", [2, 4])
def test_unequal_local_batches_raise_on_every_rank(world_size: int, results_dir: Path) -> None:
    assert float(_spawned(world_size, results_dir)["unequal_sizes"]["all_ranks_raised"]) == 1.0


def test_divided_loss_would_be_wrong(results_dir: Path) -> None:
    """The W=2 encoder gradient is not half the truth (the open_clip / lightly failure mode)."""
    got = _spawned(2, results_dir)["weighted_infonce"]["param.encoder.weight"]
    want = _reference(2)["weighted_infonce"]["param.encoder.weight"]
    assert not torch.allclose(got / 2, want, atol=ATOL)
    torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
