"""The Hugging Face CLAP adapter, on a tiny random checkpoint saved to a temporary folder (conftest)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from biocl.utils.errors import BioclError

pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter")


def test_adapter_embeds_deterministically_without_crops(tiny_clap_dir: Path) -> None:
    from biocl.encoders.pretrained.clap import HFClapAdapter

    model = HFClapAdapter(tiny_clap_dir)
    assert model.sample_rate_hz == 16000 and model.embed_dim == 16
    rng = np.random.default_rng(0)
    clips = (0.1 * rng.standard_normal((3, 24000))).astype(np.float32)  # longer than the 1 s maximum
    first, second = model.embed_audio(clips), model.embed_audio(clips)
    # The extractor's fusion mode flips a random "is_longer" flag and crops long clips at
    # random; the adapter cuts to the first second and clears the flag, so nothing is random.
    assert np.array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(model.embed_audio(clips[:, :16000]), first, atol=1e-6)
    text = model.embed_text(["dog before siren", "siren before dog"])
    assert text.shape == (2, 16) and not np.allclose(text[0], text[1])
    assert abs(model.log_scale_value() - np.log(1 / 0.07)) < 1e-5


def test_adapter_trains_through_the_shared_interface(tiny_clap_dir: Path) -> None:
    from biocl.encoders.pretrained.clap import HFClapAdapter
    from biocl.heads.losses import TNCELoss

    model = HFClapAdapter(tiny_clap_dir)
    names = [n for n, _ in model.named_parameters()]
    for prefix in model.paper_trainable():
        assert any(n.startswith(prefix) for n in names), prefix
    clips = np.random.default_rng(1).standard_normal((6, 8000)).astype(np.float32) * 0.1
    audio, text = model([model.prepare_audio(clips[:4]), model.prepare_audio(clips[4:])],
                        model.prepare_text(["a before b", "b before a", "c before d", "d before c", "a while b",
                                            "c while d"]))
    loss_module = TNCELoss(1.0, 0.25)
    loss_module.logit_scale = model.logit_scale
    loss = loss_module(audio, text, torch.tensor([2, 3, 0, 1, -1, -1]))
    loss.backward()
    assert torch.isfinite(loss) and model.logit_scale.log_scale.grad is not None
    assert model.clap.text_projection.linear1.weight.grad is not None


def test_adapter_save_and_reload(tiny_clap_dir: Path, tmp_path: Path) -> None:
    from biocl.encoders.clap import load_clap
    from biocl.encoders.pretrained.clap import HFClapAdapter

    model = HFClapAdapter(tiny_clap_dir)
    with torch.no_grad():
        model.clap.audio_projection.linear1.weight.mul_(2.0)
    model.save(tmp_path / "post")
    again = load_clap(tmp_path / "post")
    assert torch.equal(again.clap.audio_projection.linear1.weight, model.clap.audio_projection.linear1.weight)


def test_missing_folder_names_the_path_and_the_extra(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from biocl.encoders.pretrained.clap import HFClapAdapter

    with pytest.raises(BioclError, match="not found") as err:
        HFClapAdapter(tmp_path / "laion-clap")
    assert "laion-clap" in err.value.one_line() and "biocl[hf]" in err.value.one_line()
    (tmp_path / "empty").mkdir()
    with pytest.raises(BioclError, match="cannot load a CLAP"):
        HFClapAdapter(tmp_path / "empty")


def test_missing_transformers_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from biocl.encoders.pretrained.clap import HFClapAdapter

    monkeypatch.setitem(sys.modules, "transformers", None)  # what a missing package looks like to import
    with pytest.raises(BioclError, match=r"pip install 'biocl\[hf\]'"):
        HFClapAdapter(tmp_path)


def test_registered_with_the_dual_encoder_contract(tiny_clap_dir: Path) -> None:
    from biocl.encoders import ENCODERS
    from biocl.encoders.pretrained.clap import HFClapAdapter

    assert ENCODERS["hf_clap"] is HFClapAdapter and HFClapAdapter.needs_checkpoint
    model = HFClapAdapter.tiny(tiny_clap_dir)
    assert model.modality == "audio+text" and model.n_outputs == 2 and model.savable
    assert model.output_dim == model.embed_dim == 16


def test_pipeline_post_trains_a_pretrained_clap(tiny_clap_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from biocl.pipelines import run_protocol
    from biocl.protocols.base import validate_protocol

    monkeypatch.setenv("BIOCL_CACHE", str(tmp_path / "cache"))
    raw = {
        "name": "hf_tiny", "version": "1", "pipeline": "audio_temporal",
        "data": {"simulation": {"n_classes": 4, "clips_per_class": 4, "clip_s": 0.25, "sample_rate_hz": 8000},
                 "clip_s": 0.25, "eval_instances_per_pair": 1, "train_rounds_per_epoch": 1},
        "model": {"kind": "hf_clap", "pretrained_path": str(tiny_clap_dir)},
        "train": {"device": "cpu", "threads": 1, "phases": [
            {"name": "temin_a", "epochs": 1, "batch_size": 4, "init_from": "none", "trainable": ["@paper"]},
            {"name": "temin_b", "epochs": 1, "batch_size": 4, "trainable": ["@paper"]}]},
        "evaluate": {"n_task4_candidates": 5, "n_permutations": 20},
        "acceptance": {"metric": "zste_task3_after", "threshold": 0.5},
    }
    run_dir, results = run_protocol(validate_protocol(raw), tmp_path / "run", report=False)
    assert results["model"]["name"] == "HFClapAdapter"
    assert [r["phase"] for r in results["phases"]] == ["temin_a", "temin_b"]
    assert "clap.clap.text_projection." in results["model"]["spec"]["trainable_per_phase"]["temin_b"]
    assert (run_dir / "model" / "model.safetensors").is_file()
