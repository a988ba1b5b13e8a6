"""`data.source: folders`: a folder of sounds with one sub-folder per class, read as labelled."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import torch

from biocl.data.audio.reading import list_folders, load_audio_dataset

REPO = Path(__file__).resolve().parents[3]


def _sounds(tmp_path: Path, n_classes: int = 4, clips: int = 6) -> Path:
    """Simulated sounds rearranged the way a person keeps them: sounds/<class>/<file>.wav."""
    from biocl.data.audio.simulate import simulate_sound_events

    esc = tmp_path / "esc"
    simulate_sound_events(esc, n_classes=n_classes, clips_per_class=clips, clip_s=0.5, sample_rate_hz=16000, seed=0)
    sounds = tmp_path / "sounds"
    with open(esc / "meta" / "esc50.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            folder = sounds / row["category"]
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(esc / "audio" / row["filename"], folder / row["filename"])
    return sounds


def test_each_sub_folder_is_a_class(tmp_path: Path) -> None:
    sounds = _sounds(tmp_path, n_classes=3, clips=2)
    (sounds / "stray.wav").write_bytes((next(sounds.rglob("*.wav"))).read_bytes())
    (sounds / "church_bell").mkdir()
    shutil.copy(next(sounds.rglob("*.wav")), sounds / "church_bell" / "one.wav")
    clips, excluded = list_folders(sounds)
    labels = sorted({clip.label for clip in clips})
    assert "church bell" in labels and len(labels) == 4 and len(clips) == 7
    assert excluded == {"file outside a class folder": 1}
    dataset = load_audio_dataset(sounds, layout="folders", sample_rate_hz=16000)
    assert dataset.exclusions[0]["reason"] == "file outside a class folder"


def test_a_flat_folder_is_a_clear_error(tmp_path: Path) -> None:
    from biocl.utils.errors import BioclError

    (tmp_path / "a.wav").write_bytes(b"")
    with pytest.raises(BioclError, match="one sub-folder per class"):
        list_folders(tmp_path)


@pytest.mark.slow
def test_folder_of_sounds_runs_through_the_quick_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from biocl.pipelines import run_protocol
    from biocl.protocols.base import load_protocol

    monkeypatch.setenv("BIOCL_CACHE", str(tmp_path / "cache"))
    sounds = _sounds(tmp_path)
    overrides = ["data.source=folders", f"data.root={sounds}", "data.train_rounds_per_epoch=1",
                 "data.eval_instances_per_pair=1", "model.audio.channels=[4, 8]", "model.text.n_layers=1",
                 "evaluate.n_permutations=20", "train.phases.0.epochs=1", "train.phases.1.epochs=1",
                 "train.phases.2.epochs=1", "train.phases.1.trainable=[\"@paper\"]",
                 "train.phases.2.trainable=[\"@paper\"]", "train.threads=1"]
    protocol = load_protocol(REPO / "protocols" / "audio_temporal_quick.yaml", overrides)
    torch.set_num_threads(1)
    run_dir, results = run_protocol(protocol, tmp_path / "run", report=False)
    assert results["data"]["simulated"] is False
    flow = {row["stage"]: row["count"] for row in results["flow"]}
    assert flow["classes"] == 4
    assert (run_dir / "run.log").is_file()
