"""Every quick protocol under ``torchrun --nproc_per_node=2`` (gloo, CPU) against one process.

Each protocol runs twice through the real command line with the same small budget (the
``--set`` overrides below): once as one process, once as two torchrun ranks that gather
their negatives (``loss.gather`` is on in every quick protocol). The primary metric of the
two runs must agree within the noise of their evaluation sets. The trainer-level parity
(bit-for-bit parameters of the toy model) is ``tests/train/test_torchrun_parity.py``.

The budgets keep each pair to about 15-25 s on two idle cores, so these tests run in the
default suite (``make test``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

BIN = Path(sys.executable).parent
BIOCL, TORCHRUN = BIN / "biocl", BIN / "torchrun"

BUDGETS = {
    "brain_speech_quick": [
        "data.simulation.n_subjects=2", "data.simulation.duration_s=60", "data.simulation.system=EEG-64",
        "data.simulation.sfreq_hz=300", "data.n_mels=16", "model.n_heads=16", "model.hidden=16", "model.n_blocks=1",
        "model.n_freqs=4", "train.epochs=2", "train.batch_size=32", "evaluate.permutations=50"],
    "dna_species_quick": [
        "data.n_species=8", "data.genome_bp=30000", "data.contigs_per_genome=12", "data.n_calibration_species=2",
        "data.n_eval_species=3", "data.window_bp=4000", "data.segment_bp=1000", "train.threads=1",
        "train.phases.0.max_steps_per_epoch=4", "train.phases.1.max_steps_per_epoch=4", "train.phases.1.epochs=1",
        "evaluate.kmeans_seeds=1", "evaluate.shots=[1,2]", "evaluate.n_test=4", "evaluate.few_shot_seeds=1",
        "evaluate.n_permutations=50", "evaluate.min_bin_size=2", "evaluate.graph_k=5", "model.dim=16",
        "model.n_blocks=1",
        # 8 species leave no room for validation species; the schedule of these budgets is one epoch.
        "data.n_validation_species=0", "train.phases.0.epochs=1"],
    "audio_temporal_quick": [
        "data.simulation.n_classes=5", "data.simulation.clips_per_class=8", "data.simulation.clip_s=0.5",
        "data.simulation.sample_rate_hz=8000", "data.sample_rate_hz=8000", "data.clip_s=0.5",
        "data.train_rounds_per_epoch=2", "data.eval_instances_per_pair=8", "model.audio.channels=[8,16]",
        "model.audio.n_mels=16", "model.audio.n_fft=256", "model.audio.hop_length=80", "model.audio.hidden_dim=32",
        "model.audio.output_dim=32", "model.text.d_model=16", "model.text.n_heads=2", "model.text.ff_dim=32",
        "model.text.n_layers=1", "model.embed_dim=16", "train.phases.0.epochs=3", "train.phases.1.epochs=1",
        "train.phases.2.epochs=1", "evaluate.n_task4_candidates=6", "evaluate.n_permutations=50"],
}


def presimulated(protocol: str, folder: Path) -> list[str]:
    """Simulate the protocol's data once, outside the runs, and return the overrides that read it.

    Both runs then read the same files, and no rank writes a data set while another reads
    it (simulating inside a torchrun run is tested on its own below).
    """
    if protocol == "brain_speech_quick":
        from biocl.data.meg.simulate.dataset import simulate_meg_bids
        from biocl.protocols.brain_speech import MegSimulationConfig

        simulate_meg_bids(folder / "bids", MegSimulationConfig(n_subjects=2, system="EEG-64", duration_s=60.0,
                                                               sfreq_hz=300.0, snr_db=-10.0), seed=0)
        return ["data.source=bids", f"data.bids_root={folder / 'bids'}"]
    if protocol == "audio_temporal_quick":
        from biocl.data.audio.simulate import simulate_sound_events

        simulate_sound_events(folder / "sounds", n_classes=5, clips_per_class=8, clip_s=0.5, sample_rate_hz=8000,
                              seed=0)
        return ["data.source=esc50", f"data.root={folder / 'sounds'}"]
    return []  # dna_species simulates its genomes inside its own run folder


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "BIOCL_QUIET": "1", "BIOCL_CACHE": str(cache),
            "BIOCL_CHROMIUM": "/nonexistent/chromium"}


def _timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    return done, time.perf_counter() - start


def noise_tolerance(one: dict, two: dict) -> float:
    """How far two runs' primary metrics may differ by chance.

    The larger of: the two 95% bootstrap half-widths added, and three standard errors of a
    difference of two proportions over the evaluated items (the bootstrap over a handful of
    subjects can be degenerate), never below 0.05.
    """
    def half_width(results: dict) -> float:
        low, high = results["primary_endpoint"]["ci95"]
        return (high - low) / 2

    endpoint = one["primary_endpoint"]
    n_items = sum(endpoint["unit_weights"]) if endpoint["unit_weights"] else endpoint["n_units"]
    p = min(max((endpoint["value"] + two["primary_endpoint"]["value"]) / 2, 0.05), 0.95)
    binomial = 3 * math.sqrt(2 * p * (1 - p) / max(n_items, 1))
    return max(half_width(one) + half_width(two), binomial, 0.05)


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed beside the interpreter")
@pytest.mark.parametrize("protocol", sorted(BUDGETS))
def test_quick_protocol_under_torchrun_agrees_with_one_process(protocol: str, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:
    pairs = [*BUDGETS[protocol], *presimulated(protocol, tmp_path)]
    overrides = [arg for pair in pairs for arg in ("--set", pair)]
    single = [str(BIOCL), "--quiet", "run", protocol, "--out", str(tmp_path / "one"), *overrides]
    ranks = [str(TORCHRUN), "--standalone", "--nproc_per_node=2", "--no-python", str(BIOCL), "--quiet", "run",
             protocol, "--out", str(tmp_path / "two"), *overrides]
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_timed, single, _env(tmp_path / "cache-one"), tmp_path)
        second = pool.submit(_timed, ranks, _env(tmp_path / "cache-two"), tmp_path)
        (done_one, wall_one), (done_two, wall_two) = first.result(), second.result()
    assert done_one.returncode == 0, done_one.stderr[-3000:]
    assert done_two.returncode == 0, done_two.stderr[-3000:]
    assert "terminate called" not in done_two.stderr, done_two.stderr[-3000:]

    one = json.loads((tmp_path / "one" / "results.json").read_text())
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    assert one["environment"]["world_size"] == 1 and two["environment"]["world_size"] == 2
    for results in (one, two):
        assert all(np.isfinite(v) for v in results["metrics"].values()), results["metrics"]
    assert two["primary_endpoint"]["n_units"] == one["primary_endpoint"]["n_units"], "both runs score the same items"
    metric = one["primary_endpoint"]["metric"]
    value_one, value_two = one["primary_endpoint"]["value"], two["primary_endpoint"]["value"]
    tolerance = noise_tolerance(one, two)
    row = (f"| {protocol} | {metric} | {value_one:.4f} {_ci(one)} | {value_two:.4f} {_ci(two)} | "
           f"{value_two - value_one:+.4f} | {tolerance:.3f} | {wall_one:.0f} s / {wall_two:.0f} s |")
    rows = getattr(request.config, "biocl_torchrun_rows", [])
    request.config.biocl_torchrun_rows = [*rows, row]
    assert abs(value_two - value_one) <= tolerance, row


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed beside the interpreter")
@pytest.mark.parametrize("protocol", ["brain_speech_quick", "audio_temporal_quick"])
def test_quick_protocol_simulating_its_data_under_torchrun(protocol: str, tmp_path: Path) -> None:
    """The first run of a quick protocol, as a user starts it: the data are simulated inside the run."""
    overrides = [arg for pair in BUDGETS[protocol] for arg in ("--set", pair)]
    done, _ = _timed([str(TORCHRUN), "--standalone", "--nproc_per_node=2", "--no-python", str(BIOCL), "--quiet",
                      "run", protocol, "--out", str(tmp_path / "two"), *overrides], _env(tmp_path / "cache"), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "results.json").read_text())["environment"]["world_size"] == 2


def _ci(results: dict) -> str:
    low, high = results["primary_endpoint"]["ci95"]
    return f"[{low:.3f}, {high:.3f}]"


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed beside the interpreter")
def test_dna_embed_shards_across_ranks_and_writes_one_output_in_input_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    fasta = tmp_path / "contigs.fa"
    # Unequal lengths and an odd count: shards differ in size and the last one is short.
    fasta.write_text("".join(f">seq{i}\n{''.join(rng.choice(list('ACGT'), 1200 + 300 * i))}\n" for i in range(7)))
    args = ["--json", "dna", "embed", str(fasta), "--steps", "0", "--window-bp", "1000", "--device", "cpu"]
    env = _env(tmp_path / "cache")
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_timed, [str(BIOCL), *args, "--out", str(tmp_path / "one.npy")], env, tmp_path)
        second = pool.submit(_timed, [str(TORCHRUN), "--standalone", "--nproc_per_node=2", "--no-python", str(BIOCL),
                                      *args, "--out", str(tmp_path / "two.npy")], env, tmp_path)
        (done_one, _), (done_two, _) = first.result(), second.result()
    assert done_one.returncode == 0, done_one.stderr[-3000:]
    assert done_two.returncode == 0, done_two.stderr[-3000:]
    assert (tmp_path / "two.ids.txt").read_text() == (tmp_path / "one.ids.txt").read_text()
    np.testing.assert_allclose(np.load(tmp_path / "two.npy"), np.load(tmp_path / "one.npy"), rtol=1e-5, atol=1e-6)
    # Rank 0 alone writes and reports: exactly one JSON document on stdout.
    document = json.loads(done_two.stdout)
    assert document["n_sequences"] == 7 and document["processes"] == 2
