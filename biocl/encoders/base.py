"""The input contract every encoder declares, and the registry contract tests iterate over.

Like braindecode's ``EEGModuleMixin``: an encoder says what it takes and what it gives,
so heads, the trainer and the pipelines never special-case a domain or a class. Every
registered encoder can build a tiny instance (:meth:`Encoder.tiny`, from a tiny checkpoint
folder for adapters that load one) and random inputs of its declared shape
(:meth:`Encoder.example_inputs`), which ``tests/encoders/test_encoder_contract.py`` runs;
it says whether biocl can save it (:attr:`Encoder.savable`, :meth:`Encoder.save`), so a
pipeline asks the encoder instead of testing its class.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from biocl.utils.errors import BioclError

__all__ = ["Encoder", "ENCODERS", "register_encoder", "build_encoder"]

EncoderClass = TypeVar("EncoderClass", bound=type["Encoder"])

#: Every registered encoder class by name (filled by :func:`register_encoder`).
ENCODERS: dict[str, type[Encoder]] = {}


class Encoder(nn.Module):
    """Base class of biocl encoders.

    Subclasses set ``modality`` (``"brain"``, ``"dna"``, ``"audio"``, ``"text"``; a dual
    encoder names both, ``"audio+text"``) and ``output_dim``, and implement
    :meth:`example_inputs` (keyword arguments of ``forward`` with the declared shapes),
    :meth:`output_shape` and :meth:`tiny` (a small instance for tests).

    ``n_outputs`` is the number of tensors ``forward`` returns (a dual encoder returns one
    per modality), each of :meth:`output_shape`. ``needs_checkpoint`` marks adapters built
    from a checkpoint folder: their :meth:`tiny` takes a tiny one. ``savable`` says whether
    :meth:`save` writes the encoder in a form biocl loads back.
    """

    modality: ClassVar[str] = ""
    output_dim: int
    n_outputs: ClassVar[int] = 1
    needs_checkpoint: ClassVar[bool] = False
    savable: ClassVar[bool] = False

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Random keyword inputs of the declared shape for ``forward``."""
        raise NotImplementedError

    def output_shape(self, batch_size: int) -> tuple[int, ...]:
        """The shape of (each tensor) ``forward(**example_inputs(batch_size))`` returns."""
        return (batch_size, self.output_dim)

    @classmethod
    def tiny(cls, checkpoint: str | Path | None = None) -> Encoder:
        """A small instance for contract tests.

        Parameters
        ----------
        checkpoint : str | Path | None
            For adapters that load a checkpoint (``needs_checkpoint``): a tiny checkpoint
            folder of the format they read. Other encoders take none.
        """
        raise NotImplementedError

    def save(self, path: str | Path) -> str:
        """Write the encoder where biocl can load it back; return the SHA-256 of its weights file.

        Parameters
        ----------
        path : str | Path
            The file or folder the encoder's format uses (see the subclass).

        Raises
        ------
        BioclError
            For an encoder biocl cannot save (``savable`` is False).
        """
        raise BioclError(f"biocl cannot save a {type(self).__name__} on its own", path=path,
                         hint="the run's checkpoint folder holds its trained weights")


def register_encoder(name: str) -> Callable[[EncoderClass], EncoderClass]:
    """Class decorator adding an encoder to :data:`ENCODERS` under ``name``."""

    def decorate(cls: EncoderClass) -> EncoderClass:
        if name in ENCODERS:
            raise ValueError(f"encoder {name!r} registered twice")
        ENCODERS[name] = cls
        return cls

    return decorate


def build_encoder(name: str, **kwargs: Any) -> Encoder:
    """Instantiate a registered encoder.

    Raises
    ------
    BioclError
        When no encoder is registered under ``name``.
    """
    if name not in ENCODERS:
        raise BioclError(f"unknown encoder {name!r}; known: {', '.join(sorted(ENCODERS))}")
    return ENCODERS[name](**kwargs)
