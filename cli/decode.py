"""`biocl decode train|evaluate|predict` and `biocl simulate meg`: brain-to-speech decoding."""

from __future__ import annotations

from pathlib import Path

import typer

from biocl.utils.console import stage
from biocl.utils.errors import BioclError
from biocl.utils.io import check_output, write_json
from biocl_cli.output import (DEVICE_OPTION, OVERWRITE_OPTION, THREADS_OPTION, emit, output_folder, run_folder,
                              runtime_overrides)

app = typer.Typer(help="Brain-to-speech decoding: train, evaluate, predict.", no_args_is_help=True)


def _summary(metrics: dict, baselines: dict) -> str:
    lines = [f"{'':<12}{'top-1':>8}{'top-10':>8}"]
    for name, values in {"deep model": metrics, **baselines}.items():
        lines.append(f"{name:<12}{values.get('top1', float('nan')):>8.3f}{values.get('top10', float('nan')):>8.3f}")
    return "\n".join(lines)


@app.command("train")
def train(
    protocol: str = typer.Argument("brain_speech_quick", help="A brain_speech protocol file or name."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run folder (default runs/<name>-<UTC time>/)."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override a protocol value: section.key=value."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue the run in this folder."),
    overwrite: bool = OVERWRITE_OPTION,
    device: str | None = DEVICE_OPTION,
    threads: int | None = THREADS_OPTION,
) -> None:
    """Train and evaluate a decoder (the same as `biocl run` for a brain_speech protocol)."""
    from biocl.pipelines import run_protocol
    from biocl.protocols.base import load_protocol
    from biocl.protocols.brain_speech import SECTIONS
    from biocl_cli.protocols import find_protocol

    loaded = load_protocol(find_protocol(protocol), [*(set_ or []), *runtime_overrides(device, threads)])
    if loaded.pipeline != SECTIONS.name:
        raise BioclError(f"the protocol runs the {loaded.pipeline!r} pipeline, not {SECTIONS.name}",
                         path=loaded.source_path, hint="use `biocl run` for other pipelines")
    run_dir, results = run_protocol(loaded, run_folder(out, resume, overwrite), resume=resume is not None)
    emit({"run_dir": str(run_dir), "metrics": results["metrics"], "baselines": results["baselines"],
          "primary_endpoint": results["primary_endpoint"]},
         f"{_summary(results['metrics'], results['baselines'])}\nrun folder: {run_dir}")


@app.command("evaluate")
def evaluate(
    run_dir: Path = typer.Argument(..., help="A trained brain_speech run folder."),
    baselines: bool = typer.Option(True, "--baselines/--no-baselines", help="Also score ridge and the oracle."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the metrics as JSON here."),
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Re-score a run's best checkpoint on its protocol's test sentences."""
    from biocl.pipelines.brain_speech.decoder import evaluate_run

    if out is not None:
        check_output(out, overwrite=overwrite, folder=False)  # before any work
    document = evaluate_run(run_dir, with_baselines=baselines)
    if out is not None:
        write_json(out, document)
    emit(document, _summary(document["metrics"], document["baselines"]))


@app.command("predict")
def predict(
    run_dir: Path = typer.Argument(..., help="A trained brain_speech run folder."),
    recording: Path = typer.Argument(..., help="A recording MNE reads (FIF, CTF, KIT, BTi, EDF, BrainVision...)."),
    events: Path = typer.Option(..., "--events", help="Its events.tsv with word onsets and stimulus audio files."),
    bids_root: Path | None = typer.Option(None, "--bids-root", help="Folder the sound paths are relative to."),
    subject: str | None = typer.Option(None, "--subject", help="A training subject's label (default: unseen)."),
    top: int = typer.Option(10, "--top", min=1, help="Candidates listed per window."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write every window's ranking as JSON here."),
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Rank the candidate speech segments of every word window of a new recording."""
    from biocl.pipelines.brain_speech.decoder import predict_recording

    if out is not None:
        check_output(out, overwrite=overwrite, folder=False)  # before any work
    result = predict_recording(run_dir, recording, events=events, bids_root=bids_root, subject=subject, top=top)
    if out is not None:
        write_json(out, result)
    first = result["windows"][:5]
    human = "\n".join([f"{result['n_windows']} windows, {result['n_candidates']} candidates, subject layer "
                       f"{result['subject_layer']}: top-1 {result['top1']:.3f}, top-10 {result['top10']:.3f}"]
                      + [f"  {w['onset_s']:8.2f} s  heard {w['word']!r:<14} rank {w['rank']:>4}  best: "
                         + ", ".join(repr(c["word"]) for c in w["top"][:3]) for w in first])
    emit(result if out is None else {key: value for key, value in result.items() if key != "windows"}, human)


def simulate_command(
    legacy_out: Path | None = typer.Argument(None, hidden=True, help="Deprecated: use --out."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder to write the BIDS data set into."),
    subjects: int = typer.Option(4, "--subjects", min=1, help="Number of subjects."),
    sessions: int = typer.Option(1, "--sessions", min=1, help="Sessions per subject."),
    system: str = typer.Option("KIT-157", "--system", help="Sensor layout: KIT-157, CTF-275 or EEG-64."),
    duration_s: float = typer.Option(240.0, "--duration", help="Seconds per recording."),
    snr_db: float = typer.Option(-10.0, "--snr-db", help="Single-window signal-to-noise ratio, in dB."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulation."),
    speech_dir: Path | None = typer.Option(None, "--speech-dir", help="Real WAVs with word timings to use."),
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Simulate MEG/EEG of people listening to speech, as a BIDS data set the real reader loads."""
    from pydantic import ValidationError

    from biocl.data.meg.simulate.dataset import simulate_meg_bids
    from biocl.protocols.brain_speech import MegSimulationConfig

    out = output_folder(out, legacy_out, "simulate meg")
    try:
        config = MegSimulationConfig(n_subjects=subjects, n_sessions=sessions, system=system, duration_s=duration_s,
                                     snr_db=snr_db, speech_dir=None if speech_dir is None else str(speech_dir))
    except ValidationError as err:  # a value the options accept but a simulation cannot have (--duration 0)
        first = err.errors()[0]
        raise BioclError(f"{first['loc'][0]}: {first['msg']} (got {first['input']!r})",
                         hint="see biocl simulate meg --help") from None
    check_output(out, overwrite=overwrite, clear=True)  # before any work
    with stage(f"simulating {system} recordings of {subjects} subject{'s' if subjects != 1 else ''}"):
        dataset = simulate_meg_bids(out, config, seed=seed, overwrite=overwrite)
    document = {"root": str(out), "description": dataset.description, "sha256": dataset.sha256}
    emit(document, f"simulated BIDS data set: {out}\n{dataset.description}")
