"""Weights files: a module's tensors as safetensors, written atomically, read without pickles.

Encoders save themselves and the trainer checkpoints through these functions, so every
weights file biocl writes has the same format: no pickled code, tied parameters stored
once, a sorted header (the same weights give the same bytes and SHA-256).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biocl.utils.errors import BioclError
from biocl.utils.io import atomic_path, sha256_bytes

__all__ = ["save_weights", "read_weights", "load_weights", "write_safetensors"]

# Metadata key listing tensor names that share storage with a saved one (tied weights):
# safetensors refuses shared tensors, so only one copy is stored and the others are aliases.
_ALIASES_KEY = "biocl_aliases"


def save_weights(module: nn.Module, path: str | Path) -> str:
    """Write ``module``'s ``state_dict`` as safetensors, atomically.

    Tied parameters (several names on one storage) are stored once and restored on load.

    Parameters
    ----------
    module : nn.Module
        The model (unwrap DDP first: names must not start with ``module.``).
    path : str | Path
        The ``.safetensors`` file to write; its folder is created.

    Returns
    -------
    str
        The hex SHA-256 of the written file.
    """
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[Any, ...], str] = {}
    for name, tensor in module.state_dict().items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"state_dict entry {name!r} is a {type(tensor).__name__}, not a tensor; "
                            "safetensors stores tensors only")
        key = (tensor.device, tensor.untyped_storage().data_ptr(), tensor.storage_offset(),
               tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        if tensor.numel() and key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        # A fresh contiguous CPU copy: views into a larger storage are refused by safetensors.
        tensors[name] = tensor.detach().to("cpu", copy=True).contiguous()
    return write_safetensors(tensors, path, {"format": "pt", _ALIASES_KEY: json.dumps(aliases)})


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file written by :func:`save_weights` (aliases restored), on the CPU.

    Raises
    ------
    BioclError
        When the file is missing or is not a readable safetensors file.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise BioclError("checkpoint file not found", path=path,
                         hint="check the path, or train the phase that writes it first")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        aliases = json.loads(metadata.get(_ALIASES_KEY, "{}"))
    except Exception as err:  # safetensors raises its own and OSError/ValueError types
        raise BioclError(f"not a readable safetensors checkpoint ({type(err).__name__}: {err})", path=path,
                         hint="the file is corrupt or truncated; use another checkpoint") from None
    for alias, source in aliases.items():
        tensors[alias] = tensors[source]
    return tensors


def load_weights(module: nn.Module, path: str | Path, *, strict: bool = True) -> None:
    """Load a weights file written by :func:`save_weights` into ``module`` in place.

    Parameters
    ----------
    module : nn.Module
        The model to fill (its tensors keep their device and dtype).
    path : str | Path
        The ``.safetensors`` file.
    strict : bool
        When ``True`` the file's names must equal the module's; when ``False`` missing and
        unexpected names are ignored, but shapes of shared names must still agree.

    Raises
    ------
    BioclError
        Naming the file when it is missing, corrupt, or does not fit the module.
    """
    path = Path(path)
    tensors = read_weights(path)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({_few(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({_few(unexpected)})")
        raise BioclError(f"checkpoint does not fit the model: {'; '.join(parts)} parameter names", path=path,
                         hint="it was written for another model or configuration")
    bad_shapes = [f"{name}: file {tuple(tensors[name].shape)} vs model {tuple(expected[name].shape)}"
                  for name in sorted(set(expected) & set(tensors))
                  if tuple(tensors[name].shape) != tuple(expected[name].shape)]
    if bad_shapes:
        raise BioclError(f"checkpoint shapes do not fit the model ({_few(bad_shapes)})", path=path,
                         hint="it was written for a model of another size")
    module.load_state_dict({name: tensors[name] for name in expected if name in tensors}, strict=strict)


def write_safetensors(tensors: dict[str, Any], path: str | Path, metadata: dict[str, str]) -> str:
    """Write tensors as a safetensors file, atomically, the same bytes for the same content.

    safetensors writes its metadata in hash-map order, which changes from run to run; the
    header is rewritten with sorted keys (tensor offsets are relative to the data, which is
    left as is), so equal weights give equal checksums.

    Returns
    -------
    str
        The hex SHA-256 of the written file.
    """
    from safetensors.torch import save

    raw = save(tensors, metadata=metadata)
    size = int.from_bytes(raw[:8], "little")
    header = json.dumps(json.loads(raw[8:8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the format pads the header to 8 bytes with spaces
    content = len(header).to_bytes(8, "little") + header + raw[8 + size:]
    with atomic_path(path) as tmp:
        tmp.write_bytes(content)
    return sha256_bytes(content)


def _few(items: list[str], n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (", ..." if len(items) > n else "")
