"""The training loop on a toy MLP: phases, freezing, schedules, clipping, early stopping,
checkpoints, determinism and resume after an interruption (in process)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from biocl.utils.errors import BioclError
from biocl.protocols.base import Phase, TrainConfig
from biocl.pipelines.runs import RunContext
from biocl.train import Trainer
from biocl.utils.weights import load_weights, read_weights, save_weights


def _params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _config(**kwargs) -> TrainConfig:
    return TrainConfig(**{"lr": 0.01, "device": "cpu", **kwargs})


def _fit(toy, config, phases, *, run=None, seed=0, **trainer_kwargs):
    model = toy.make_model()
    result = Trainer(model, config, run=run, seed=seed, **trainer_kwargs).fit(phases)
    return model, result


def test_same_seed_same_parameters_and_other_seed_differs(toy) -> None:
    phases = toy.phase_specs(toy.default_phases([2, 1]), noise=0.1)
    first, _ = _fit(toy, _config(schedule="cosine"), phases)
    second, _ = _fit(toy, _config(schedule="cosine"), phases)
    third, _ = _fit(toy, _config(schedule="cosine"), phases, seed=1)
    assert _equal(_params(first), _params(second))
    assert not _equal(_params(first), _params(third))


def test_checkpoints_metrics_and_weights_only_state(toy, tmp_path: Path) -> None:
    config = _config()
    with RunContext(tmp_path / "run", toy.make_protocol(config)) as run:
        model, result = _fit(toy, config, toy.phase_specs(toy.default_phases([2, 2])), run=run)
    folder = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["best-p0.safetensors", "best-p1.safetensors",
                                                         "last.safetensors", "last.state.pt"]
    assert result.best == {"p0": folder / "best-p0.safetensors", "p1": folder / "best-p1.safetensors"}
    assert result.last == folder / "last.safetensors" and result.steps == 16
    state = torch.load(folder / "last.state.pt", weights_only=True)
    assert state["phase_index"] == 1 and state["phase_done"] and state["global_step"] == 16
    # The model ends with the last phase's best weights; mse falls every epoch here, so best == last.
    assert _equal(_params(model), read_weights(result.best["p1"]))
    assert _equal(read_weights(result.best["p1"]), read_weights(result.last))
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["phase"], r["epoch"]) for r in records] == [("p0", 0), ("p0", 1), ("p1", 0), ("p1", 1)]
    assert {"train_loss", "mse", "lr", "time_s", "step", "train_batch_items"} <= set(records[0])
    assert records == result.history


def test_init_from_previous_loads_the_previous_best(toy) -> None:
    calls = {"n": 0}

    def validate_best_first(model):  # the first epoch of p0 scores best
        calls["n"] += 1
        return {"score": -calls["n"]}

    seen = {}

    def step(model, batch, ctx):
        if ctx.phase == "p1" and "start" not in seen:
            seen["start"] = _params(Trainer.unwrap(model))
        return toy.make_step()(model, batch, ctx)

    specs = toy.phase_specs(toy.default_phases([3, 1]), monitor=None)
    snapshots = []
    specs[0].validate = lambda model: (snapshots.append(_params(model)), validate_best_first(model))[1]
    specs[0].monitor, specs[0].mode = "score", "max"
    specs[1].step = step
    _fit(toy, _config(), specs)
    assert _equal(seen["start"], snapshots[0])
    assert not _equal(seen["start"], snapshots[-1])


def test_init_from_none_and_from_a_path(toy, tmp_path: Path) -> None:
    source = toy.make_model(seed=9)
    save_weights(source, tmp_path / "start.safetensors")
    seen = {}

    def step(model, batch, ctx):
        seen.setdefault(ctx.phase, _params(Trainer.unwrap(model)))
        return toy.make_step()(model, batch, ctx)

    phases = [Phase(name="warm", epochs=1, init_from=str(tmp_path / "start.safetensors"), batch_size=16),
              Phase(name="more", epochs=1, init_from="none", batch_size=16)]
    specs = toy.phase_specs(phases)
    for spec in specs:
        spec.step = step
    _fit(toy, _config(), specs)
    assert _equal(seen["warm"], _params(source))
    assert not _equal(seen["more"], _params(source))

    bad = toy.phase_specs([Phase(name="x", epochs=1, init_from=str(tmp_path / "absent.safetensors"))])
    with pytest.raises(BioclError, match="checkpoint file not found"):
        _fit(toy, _config(), bad)


def test_trainable_prefixes_freeze_the_rest_and_respect_frozen_parts(toy) -> None:
    model = toy.make_model()
    model[2].bias.requires_grad_(False)  # frozen by the pipeline itself
    before = _params(model)
    phases = [Phase(name="head", epochs=1, trainable=["2."], batch_size=16)]
    Trainer(model, _config(), run=None, seed=0).fit(toy.phase_specs(phases))
    after = _params(model)
    assert torch.equal(after["0.weight"], before["0.weight"]) and torch.equal(after["0.bias"], before["0.bias"])
    assert not torch.equal(after["2.weight"], before["2.weight"])
    assert torch.equal(after["2.bias"], before["2.bias"])
    assert [p.requires_grad for p in model.parameters()] == [True, True, True, False]

    typo = [Phase(name="head", epochs=1, trainable=["decoder."])]
    with pytest.raises(BioclError, match="'decoder.' matches no parameter"):
        Trainer(toy.make_model(), _config(), run=None, seed=0).fit(toy.phase_specs(typo))


@pytest.mark.parametrize("schedule", ["cosine", "exponential", "none"])
def test_schedule_values(toy, tmp_path: Path, schedule: str) -> None:
    config = _config(schedule=schedule, gamma=0.5, lr=0.1)
    phases = [Phase(name="a", epochs=3, lr=0.2, batch_size=16)]  # 4 steps per epoch
    with RunContext(tmp_path / "run", toy.make_protocol(config)) as run:
        _fit(toy, config, toy.phase_specs(phases, monitor=None), run=run, log_every_steps=1)
        steps = [r for r in run.read_metrics() if r["scope"] == "step"]
    lrs = [r["lr"] for r in steps]
    expected = {"cosine": [0.2 * 0.5 * (1 + math.cos(math.pi * t / 12)) for t in range(12)],
                "exponential": [0.2 * 0.5 ** (t // 4) for t in range(12)],
                "none": [0.2] * 12}[schedule]
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert [r["step"] for r in steps] == list(range(1, 13))


def test_gradient_clipping_bounds_the_update(toy) -> None:
    phases = [Phase(name="a", epochs=1, batch_size=64)]  # one step
    deltas = {}
    for clip in (None, 1e-3):
        model = toy.make_model()
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        Trainer(model, _config(optimizer="sgd", lr=1.0, grad_clip=clip), run=None, seed=0).fit(
            toy.phase_specs(phases, monitor=None))
        deltas[clip] = float((torch.cat([p.detach().flatten() for p in model.parameters()]) - before).norm())
    assert deltas[1e-3] == pytest.approx(1e-3, rel=1e-4)
    assert deltas[None] > 0.1


def test_early_stopping_after_patience_epochs(toy) -> None:
    values = iter([1.0, 2.0, 1.5, 1.9, 3.0, 4.0])
    specs = toy.phase_specs([Phase(name="a", epochs=6, batch_size=32)])
    specs[0].validate = lambda model: {"auc": next(values)}
    specs[0].monitor, specs[0].mode = "auc", "max"
    _, result = _fit(toy, _config(early_stopping_patience=2), specs)
    assert [r["auc"] for r in result.history] == [1.0, 2.0, 1.5, 1.9]
    assert result.stopped_early == {"a": True}


def test_monitored_best_is_restored_at_the_end(toy) -> None:
    snapshots = []
    values = iter([0.3, 0.1, 0.2])
    specs = toy.phase_specs([Phase(name="a", epochs=3, batch_size=32)])
    specs[0].validate = lambda model: (snapshots.append(_params(model)), {"loss": next(values)})[1]
    specs[0].monitor = "loss"
    model, result = _fit(toy, _config(), specs)
    assert _equal(_params(model), snapshots[1])
    assert result.stopped_early == {"a": False}


def test_user_errors(toy) -> None:
    def diverge(model, batch, ctx):
        return torch.tensor(float("nan"), requires_grad=True), {}

    specs = toy.phase_specs([Phase(name="a", epochs=1)], monitor=None)
    specs[0].step = diverge
    with pytest.raises(BioclError, match="training diverged"):
        _fit(toy, _config(), specs)
    specs = toy.phase_specs([Phase(name="a", epochs=1, batch_size=128)], monitor=None)
    with pytest.raises(BioclError, match="produced no batches"):
        _fit(toy, _config(), specs)
    specs = toy.phase_specs([Phase(name="a b", epochs=1)], monitor=None)
    with pytest.raises(BioclError, match="phase name 'a b'"):
        _fit(toy, _config(), specs)


class _Interrupt(Exception):
    pass


def _crash_at(spec, step: int) -> None:
    """Make ``spec``'s step function raise :class:`_Interrupt` at global step ``step`` (0-based)."""
    real_step = spec.step

    def crash(model, batch, ctx):
        if ctx.step == step:
            raise _Interrupt
        return real_step(model, batch, ctx)

    spec.step = crash


@pytest.mark.parametrize("checkpoint_every_steps", [None, 3])
def test_resume_after_an_interruption_matches_an_uninterrupted_run(toy, tmp_path: Path,
                                                                    checkpoint_every_steps) -> None:
    config = _config(schedule="cosine")
    phases = toy.default_phases([2, 2])
    reference, reference_result = _fit(toy, config, toy.phase_specs(phases, noise=0.1))

    specs = toy.phase_specs(phases, noise=0.1)
    _crash_at(specs[1], 15)  # the last step of the last epoch
    protocol = toy.make_protocol(config)
    with RunContext(tmp_path / "run", protocol) as run, pytest.raises(_Interrupt):
        _fit(toy, config, specs, run=run, checkpoint_every_steps=checkpoint_every_steps)
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.state.pt", weights_only=True)
    assert state["global_step"] == (15 if checkpoint_every_steps else 12)

    with RunContext(tmp_path / "run", protocol, resume=True) as run:
        resumed, result = _fit(toy, config, toy.phase_specs(phases, noise=0.1), run=run,
                               checkpoint_every_steps=checkpoint_every_steps)
        records = run.read_metrics()
    assert _equal(_params(resumed), _params(reference))
    assert result.steps == reference_result.steps == 16
    assert [(r["phase"], r["epoch"]) for r in records] == [("p0", 0), ("p0", 1), ("p1", 0), ("p1", 1)]
    assert [r["train_loss"] for r in result.history] == [r["train_loss"] for r in reference_result.history]


def test_resume_before_the_first_checkpoint_restarts_without_duplicate_records(toy, tmp_path: Path) -> None:
    config = _config()
    phases = toy.default_phases([2])
    specs = toy.phase_specs(phases, noise=0.1)
    _crash_at(specs[0], 3)  # before any checkpoint
    protocol = toy.make_protocol(config)
    with RunContext(tmp_path / "run", protocol) as run, pytest.raises(_Interrupt):
        _fit(toy, config, specs, run=run, log_every_steps=1)
    assert not (tmp_path / "run" / "checkpoints" / "last.state.pt").exists()
    logged = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(logged) == 3  # one record per step before the crash
    with RunContext(tmp_path / "run", protocol, resume=True) as run:
        _fit(toy, config, toy.phase_specs(phases, noise=0.1), run=run, log_every_steps=1)
        records = run.read_metrics()
    steps = [r["step"] for r in records if r["scope"] == "step"]
    assert steps == sorted(set(steps)) and steps[0] == 1
    assert [(r["phase"], r["epoch"]) for r in records if r["scope"] == "epoch"] == [("p0", 0), ("p0", 1)]


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_resume_mid_epoch_restores_the_step_generator(toy, tmp_path: Path, device: str) -> None:
    config = _config(device=device)  # on CUDA the forward runs under bf16 autocast
    phases = [Phase(name="a", epochs=2, batch_size=8)]  # 8 steps per epoch
    reference, _ = _fit(toy, config, toy.phase_specs(phases, noise=0.5))
    specs = toy.phase_specs(phases, noise=0.5)
    _crash_at(specs[0], 11)
    protocol = toy.make_protocol(config)
    with RunContext(tmp_path / "run", protocol) as run, pytest.raises(_Interrupt):
        _fit(toy, config, specs, run=run, checkpoint_every_steps=5)
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.state.pt", weights_only=True)
    assert state["global_step"] == 10 and state["progress"]["step_in_epoch"] == 2
    with RunContext(tmp_path / "run", protocol, resume=True) as run:
        resumed, _ = _fit(toy, config, toy.phase_specs(phases, noise=0.5), run=run, checkpoint_every_steps=5)
    assert _equal(_params(resumed), _params(reference))


def test_resume_refuses_another_curriculum(toy, tmp_path: Path) -> None:
    config = _config()
    protocol = toy.make_protocol(config)
    with RunContext(tmp_path / "run", protocol) as run:
        _fit(toy, config, toy.phase_specs(toy.default_phases([1])), run=run)
    with RunContext(tmp_path / "run", protocol, resume=True) as run, pytest.raises(BioclError, match="phases"):
        _fit(toy, config, toy.phase_specs(toy.default_phases([1, 1])), run=run)


def test_weights_from_a_fit_load_into_a_fresh_model(toy, tmp_path: Path) -> None:
    config = _config()
    with RunContext(tmp_path / "run", toy.make_protocol(config)) as run:
        model, result = _fit(toy, config, toy.phase_specs(toy.default_phases([1])), run=run)
    fresh = toy.make_model(seed=3)
    load_weights(fresh, result.best["p0"])
    assert _equal(_params(fresh), _params(model))


def test_resuming_a_finished_run_trains_no_more(toy, tmp_path: Path) -> None:
    config = _config()
    protocol = toy.make_protocol(config)
    with RunContext(tmp_path / "run", protocol) as run:
        first, _ = _fit(toy, config, toy.phase_specs(toy.default_phases([1, 1])), run=run)
    with RunContext(tmp_path / "run", protocol, resume=True) as run:
        again, result = _fit(toy, config, toy.phase_specs(toy.default_phases([1, 1])), run=run)
        assert len(run.read_metrics()) == 2
    assert _equal(_params(first), _params(again))
    assert result.steps == 8 and len(result.history) == 2


def test_unwrap_reaches_the_bare_model() -> None:
    bare = nn.Linear(2, 2)
    assert Trainer.unwrap(nn.DataParallel(bare)) is bare
    assert Trainer.unwrap(bare) is bare


@CUDA
def test_cuda_steps_run_under_bf16_autocast(toy) -> None:
    seen = []

    def step(model, batch, ctx):
        inputs, targets = batch
        outputs = model(inputs)
        seen.append((outputs.dtype, inputs.device.type, ctx.device.type))
        return nn.functional.mse_loss(outputs.float(), targets), {}

    specs = toy.phase_specs([Phase(name="a", epochs=1, batch_size=32)])
    specs[0].step = step
    _fit(toy, _config(device="cuda"), specs)
    assert seen == [(torch.bfloat16, "cuda", "cuda")] * 2


def test_step_cap_and_unsized_batches_under_cosine(toy, tmp_path: Path) -> None:
    drawn = []
    sized = toy.make_batches(*toy.make_data())

    def lazy_batches(ctx):  # a generator: the trainer cannot know its length
        for batch in sized(ctx):
            drawn.append(ctx.epoch)
            yield batch

    config = _config(schedule="cosine", lr=0.1)
    for cap, steps in ((3, 6), (None, 8)):  # 4 batches of 16 per epoch, 2 epochs
        drawn.clear()
        specs = toy.phase_specs([Phase(name="a", epochs=2, batch_size=16, max_steps_per_epoch=cap)], monitor=None)
        specs[0].batches = lazy_batches
        with RunContext(tmp_path / f"run{cap}", toy.make_protocol(config)) as run:
            _, result = _fit(toy, config, specs, run=run, log_every_steps=1)
            lrs = [r["lr"] for r in run.read_metrics() if r["scope"] == "step"]
        assert result.steps == steps
        assert lrs == pytest.approx([0.1 * 0.5 * (1 + math.cos(math.pi * t / steps)) for t in range(steps)])
        assert drawn == [0] * (steps // 2) + [1] * (steps // 2)


def _dropout_model() -> nn.Module:
    """An MLP with dropout: its masks come from torch's global generator, not from ctx.generator."""
    from biocl.utils.seeding import seeded

    with seeded(0):
        return nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Tanh(), nn.Linear(8, 1))


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_fit_gives_the_caller_its_generator_back_and_ignores_it(toy, device: str) -> None:
    phases = toy.phase_specs(toy.default_phases([2, 1]))
    trained = []
    for caller_seed in (1, 2):
        torch.manual_seed(caller_seed)
        before_cpu = torch.get_rng_state()
        before_cuda = torch.cuda.get_rng_state() if device == "cuda" else None
        model = _dropout_model()
        Trainer(model, _config(device=device), run=None, seed=0).fit(phases)
        assert torch.equal(torch.get_rng_state(), before_cpu)
        if before_cuda is not None:
            assert torch.equal(torch.cuda.get_rng_state(), before_cuda)
        trained.append(_params(model))
    # The dropout masks are drawn from the trainer's own reseeding, whatever the caller's state.
    assert _equal(*trained)
