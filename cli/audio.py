"""`biocl audio pretrain|posttrain|evaluate|embed` and `biocl simulate audio`: thin shells over biocl.pipelines.audio_temporal."""

from __future__ import annotations

from pathlib import Path

import typer

from biocl.utils.console import stage
from biocl.utils.errors import BioclError
from biocl.utils.io import check_output
from biocl_cli.output import (DEVICE_OPTION, OVERWRITE_OPTION, THREADS_OPTION, emit, embeddings_paths, output_folder,
                              run_folder, runtime_overrides)

app = typer.Typer(help="Temporal post-training of audio-language models (TeminAL A/B, ZSTE).", no_args_is_help=True)

_PROTOCOL = typer.Argument("audio_temporal_quick", help="A protocol file, or the name of one in protocols/.")
_OUT = typer.Option(None, "--out", "-o", help="Run folder (default runs/<name>-<UTC time>/).")
_SET = typer.Option(None, "--set", help="Override a protocol value: section.key=value.")
_RESUME = typer.Option(None, "--resume", help="Continue the run in this folder from its last checkpoint.")
_ZSTE_ROWS = ("zste_task1", "zste_task2", "zste_task3", "zste_task4", "zste_task5", "compa_text", "compa_audio",
              "compa_group", "retrieval_a2t_r1", "retrieval_a2t_r10", "retrieval_t2a_r1", "retrieval_t2a_map10")


def _load(protocol: str, overrides: list[str] | None):
    from biocl.protocols.base import load_protocol
    from biocl.protocols.audio_temporal import SECTIONS
    from biocl_cli.protocols import find_protocol

    loaded = load_protocol(find_protocol(protocol), overrides)
    if loaded.pipeline != SECTIONS.name:
        raise BioclError(f"this is a {loaded.pipeline} protocol, not an {SECTIONS.name} one", path=loaded.source_path)
    return loaded


def _run_phases(loaded, names: tuple[str, ...], out: Path | None, resume: bool = False) -> None:
    """Run the phases ``names`` into ``out`` (what curriculum.run_phases does, with --resume carried through)."""
    from biocl.pipelines import run_protocol
    from biocl.pipelines.audio_temporal.curriculum import select_phases

    run_dir, results = run_protocol(select_phases(loaded, names), out, resume=resume)
    emit({"run_dir": str(run_dir), "model": str(run_dir / "model"), "results": results},
         _table(results) + f"\nmodel:      {run_dir / 'model'}\nreport:     {run_dir / 'report.html'}")


def _table(results: dict) -> str:
    from biocl.report.labels import metric_label

    # In words, with the results.json key beside each row for scripts and cross-reading.
    rows = [f"{'metric':<26}{'before':>9}{'after':>9}  key"]
    for name, pair in results.get("before_after", {}).items():
        if name in _ZSTE_ROWS:
            rows.append(f"{metric_label(name):<26}{pair['before']:>9.3f}{pair['after']:>9.3f}  {name}")
    endpoint = results["primary_endpoint"]
    rows.append(f"{metric_label(endpoint['metric'])} = {endpoint['value']:.3f} (95% CI {endpoint['ci95'][0]:.3f}-"
                f"{endpoint['ci95'][1]:.3f}) {'PASS' if endpoint['passed'] else 'FAIL'}")
    return "\n".join(rows)


@app.command("pretrain")
def pretrain(protocol: str = _PROTOCOL, out: Path | None = _OUT, set_: list[str] | None = _SET,
             resume: Path | None = _RESUME, overwrite: bool = OVERWRITE_OPTION, device: str | None = DEVICE_OPTION,
             threads: int | None = THREADS_OPTION) -> None:
    """Base contrastive pretraining on (clip, caption) pairs only; the model is written to <run>/model."""
    loaded = _load(protocol, [*(set_ or []), *runtime_overrides(device, threads)])
    _run_phases(loaded, ("pretrain",), run_folder(out, resume, overwrite), resume=resume is not None)


@app.command("posttrain")
def posttrain(
    protocol: str = _PROTOCOL,
    model: Path | None = typer.Option(None, "--model", help="A biocl model folder (a run's model/); omit it "
                                      "for a Hugging Face CLAP (--set model.kind=hf_clap "
                                      "--set model.pretrained_path=DIR)."),
    out: Path | None = _OUT,
    set_: list[str] | None = _SET,
    resume: Path | None = _RESUME,
    overwrite: bool = OVERWRITE_OPTION,
    device: str | None = DEVICE_OPTION,
    threads: int | None = THREADS_OPTION,
) -> None:
    """TeminAL A and B on a pretrained model, with every metric before and after."""
    loaded = _load(protocol, [*(set_ or []), *([f"model.init_from={model.resolve()}"] if model else []),
                              *runtime_overrides(device, threads)])
    folder = run_folder(out, resume, overwrite)  # before any work
    if model is None and loaded.model.kind != "hf_clap":
        raise BioclError("posttrain needs a pretrained model: --model DIR (from `biocl audio pretrain`) or "
                         "--set model.kind=hf_clap --set model.pretrained_path=DIR", path=loaded.source_path)
    _run_phases(loaded, ("temin_a", "temin_b"), folder, resume=resume is not None)


@app.command("evaluate")
def evaluate(
    model: Path = typer.Argument(..., help="A biocl model folder (a run's model/)."),
    protocol: str = typer.Option("audio_temporal_quick", "--protocol", help="Whose data and held-out pairs to use."),
    set_: list[str] | None = _SET,
) -> None:
    """ZSTE tasks 1-5, CompA-order and retrieval of a saved model on the protocol's held-out class pairs."""
    from biocl.pipelines.audio_temporal.evaluation import evaluate_saved_model
    from biocl.report.labels import metric_label

    document = evaluate_saved_model(model, _load(protocol, set_))
    lines = [f"{metric_label(name):<26}{value:>9.3f}  {name}" for name, value in document["metrics"].items()]
    emit(document, f"{document['model']} on {document['n_held_out_pairs']} held-out class pairs of "
                   f"{document['protocol']}:\n" + "\n".join(lines))


@app.command("embed")
def embed(
    model: Path = typer.Argument(..., help="A biocl model folder (a run's model/)."),
    inputs: list[str] = typer.Argument(..., help="Audio files (WAV/FLAC/OGG), or captions with --text."),
    out: Path = typer.Option(..., "--out", "-o", help="Embeddings .npy (row order = input order; names in <out>.ids.txt)."),
    text: bool = typer.Option(False, "--text", help="The inputs are captions, not files."),
    overwrite: bool = OVERWRITE_OPTION,
    device: str | None = typer.Option(None, "--device", help="cpu only for now: the model is run on the CPU "
                                      "(cuda is refused rather than ignored)."),
    threads: int | None = THREADS_OPTION,
) -> None:
    """L2-normalised embeddings of whole audio files (never cropped) or of captions."""
    from biocl.pipelines.audio_temporal.embedding import embed_inputs
    from biocl.utils.runtime import set_threads

    npy, ids = embeddings_paths(out)
    check_output(npy, overwrite=overwrite, folder=False, also=(ids,))  # before any work
    if device not in (None, "cpu", "auto"):
        raise BioclError(f"biocl audio embed runs on the CPU; --device {device} is not supported",
                         hint="leave --device out, or pass --device cpu")
    set_threads(threads)
    document = embed_inputs(model, inputs, out, text=text)
    emit(document, f"{document['n']} {'captions' if text else 'clips'} -> {document['embeddings']} "
                   f"({document['dim']} dimensions)")


def simulate_command(
    legacy_out: Path | None = typer.Argument(None, hidden=True, help="Deprecated: use --out."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder to write (ESC-50 layout: meta/esc50.csv, "
                                    "audio/*.wav)."),
    n_classes: int = typer.Option(12, "--classes", help="Sound classes (2-12)."),
    clips_per_class: int = typer.Option(30, "--clips-per-class", help="Clips per class."),
    clip_s: float = typer.Option(1.0, "--clip-s", help="Clip length, seconds."),
    sample_rate_hz: int = typer.Option(16000, "--sample-rate", help="Sample rate, Hz."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulation."),
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Simulated sound events (tones, chirps, noise, clicks, AM/FM...) as WAV files in the ESC-50 layout."""
    from biocl.data.audio.simulate import simulate_sound_events

    out = output_folder(out, legacy_out, "simulate audio")
    check_output(out, overwrite=overwrite, clear=True)  # before any work
    # An empty or emptied folder is written into (the simulator itself refuses any existing folder).
    with stage(f"simulating {n_classes} sound classes x {clips_per_class} clips"):
        summary = simulate_sound_events(out, n_classes=n_classes, clips_per_class=clips_per_class, clip_s=clip_s,
                                        sample_rate_hz=sample_rate_hz, seed=seed, overwrite=True)
    emit({"out": str(out), **summary},
         f"{summary['n_clips']} simulated clips of {len(summary['classes'])} classes "
         f"({', '.join(summary['classes'])}) -> {out}")
