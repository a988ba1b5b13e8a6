"""Checkpoints: weights as safetensors, training state as a ``weights_only``-loadable file.

Weights files are written by :mod:`biocl.utils.weights`; both are written to a temporary file beside the target and renamed onto it, so a reader
(or a resumed run after a kill) sees either the old file or the new one, never half of one.
Weights files never hold pickled code; state files hold only tensors, dicts, lists, tuples,
numbers, strings and None, so :func:`load_state` works with ``torch.load(weights_only=True)``.

:func:`commit_checkpoint` and :func:`recover_checkpoint` keep several weights files and the
state that describes them consistent across a kill; :func:`check_resumable` and
:func:`drop_uncommitted_records` are the trainer's checks and clean-up when it resumes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biocl.utils.errors import BioclError
from biocl.utils.io import atomic_path, sha256_file, write_text
from biocl.utils.weights import save_weights

__all__ = ["save_state", "load_state", "commit_checkpoint", "recover_checkpoint", "check_resumable",
           "drop_uncommitted_records", "STATE_FORMAT"]

#: Version of the trainer's state layout; bumped when it changes.
STATE_FORMAT = 1

_PENDING = ".pending"
_STATE_TYPES = (torch.Tensor, str, int, float, bool, type(None))


def save_state(state: dict[str, Any], path: str | Path) -> None:
    """Write a training state atomically with ``torch.save``.

    Parameters
    ----------
    state : dict
        Tensors, dicts, lists, tuples, numbers, strings and None only, so that
        ``torch.load(weights_only=True)`` can read it back.
    path : str | Path
        The file to write; its folder is created.

    Raises
    ------
    TypeError
        When ``state`` holds anything else (a ``Path``, a numpy array, an object).
    """
    _check_plain(state, "state")
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: str | Path) -> dict[str, Any]:
    """Read a state written by :func:`save_state` (``weights_only=True``, tensors on the CPU).

    Raises
    ------
    BioclError
        When the file is missing or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise BioclError("training state file not found", path=path, hint="nothing to resume from")
    import pickle
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols, with advice biocl never gives
            state = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError:
        # torch's message advises reloading with weights_only=False, which would run the file's code.
        raise BioclError("not a biocl training state: the file is damaged or holds objects biocl never writes",
                         path=path,
                         hint="it was written by another program or altered; start the run again without "
                              "--resume, and do not load the file elsewhere") from None
    except Exception as err:  # torch raises zip and runtime errors for damaged files
        raise BioclError(f"cannot read the training state ({type(err).__name__})", path=path,
                         hint="the file is damaged; start the run again without --resume") from None
    if not isinstance(state, dict):
        raise BioclError("the training state is not a dict", path=path, hint="it was not written by biocl")
    return state


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: key {key!r} is a {type(key).__name__}; use str or int keys")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
    elif not isinstance(value, _STATE_TYPES):
        raise TypeError(f"{where} is a {type(value).__name__}; a state holds only tensors, containers, "
                        "numbers and strings")


def commit_checkpoint(folder: str | Path, state_name: str, state: dict[str, Any],
                      weights: dict[str, nn.Module]) -> dict[str, str]:
    """Write weight files and the state that describes them as one consistent checkpoint.

    Each weights file is first written as ``<name>.pending``; renaming the state onto
    ``state_name`` is the commit point (it records every file's SHA-256 under ``"files"``);
    the pending files are renamed afterwards. A kill at any moment leaves a folder that
    :func:`recover_checkpoint` brings back to the last committed checkpoint.

    Parameters
    ----------
    folder : str | Path
        The checkpoint folder.
    state_name : str
        File name of the state (``last.state.pt``).
    state : dict
        The training state (see :func:`save_state`); its ``"files"`` entry, if any, lists
        files committed earlier, which keep their hashes.
    weights : dict of str to nn.Module
        Weights file name -> module to save.

    Returns
    -------
    dict of str to str
        Every committed file name with its SHA-256.
    """
    folder = Path(folder)
    files = dict(state.get("files", {}))
    for name, module in weights.items():
        files[name] = save_weights(module, folder / (name + _PENDING))
    save_state({**state, "files": files}, folder / state_name)
    for name in weights:
        os.replace(folder / (name + _PENDING), folder / name)
    return files


def recover_checkpoint(folder: str | Path, state_name: str) -> dict[str, Any] | None:
    """The last committed state in ``folder`` after finishing an interrupted commit.

    Pending weights files that the state vouches for are renamed into place; other pending
    and temporary files (from a kill mid-write) are removed.

    Returns
    -------
    dict or None
        The state, or None when no state was ever committed.

    Raises
    ------
    BioclError
        When a file the state lists is missing or differs from its recorded hash.
    """
    folder = Path(folder)
    state_path = folder / state_name
    if not state_path.is_file():
        return None
    state = load_state(state_path)
    for name, digest in state.get("files", {}).items():
        final, pending = folder / name, folder / (name + _PENDING)
        if pending.is_file() and sha256_file(pending) == digest:
            os.replace(pending, final)
        elif not final.is_file() or sha256_file(final) != digest:
            raise BioclError(f"checkpoint file {name} is missing or does not match the training state",
                             path=final, hint="the checkpoint folder was altered; start the run again")
    for stray in [*folder.glob("*" + _PENDING), *folder.glob(".*.tmp")]:
        stray.unlink(missing_ok=True)
    return state


def check_resumable(state: dict[str, Any], path: str | Path, *, seed: int, phase_names: list[str],
                    world_size: int) -> None:
    """Refuse to resume a trainer state written for another seed, curriculum or process count.

    Raises
    ------
    BioclError
        Naming the state file and what differs.
    """
    if state.get("format") != STATE_FORMAT:
        raise BioclError("the training state has an unknown format", path=path, hint="start a new run")
    if state["seed"] != seed or state["phase_names"] != phase_names:
        raise BioclError(f"the run was trained with seed {state['seed']} and phases {state['phase_names']}, "
                         f"not seed {seed} and phases {phase_names}", path=path,
                         hint="resume with the protocol the run started with")
    if state["rng"] and state["world_size"] != world_size:
        # Mid-epoch states hold one random state per rank; epoch-end states need none.
        raise BioclError(f"the run stopped mid-epoch with {state['world_size']} processes; "
                         f"it is resumed with {world_size}", path=path,
                         hint=f"resume with --nproc_per_node={state['world_size']}")


def drop_uncommitted_records(metrics_path: str | Path, state: dict[str, Any]) -> None:
    """Rewrite ``metrics.jsonl`` without the trainer records logged after ``state`` was committed.

    The resumed run logs those epochs and steps again; records of other writers are kept.
    """
    metrics_path = Path(metrics_path)
    if not metrics_path.is_file():
        return
    committed = {(record["phase"], record["epoch"]) for record in state["history"]}
    kept = []
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line torn by the kill
            continue
        scope = record.get("scope") if isinstance(record, dict) else None
        if scope == "epoch" and (record.get("phase"), record.get("epoch")) not in committed:
            continue
        if scope == "step" and record.get("step", 0) > state["global_step"]:
            continue
        kept.append(line + "\n")
    write_text(metrics_path, "".join(kept))
