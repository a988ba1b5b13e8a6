"""The input contract every encoder declares, and the registry contract tests iterate over.

Like braindecode's ``EEGModuleMixin``: an encoder says what it takes and what it gives,
so heads and the trainer never special-case a domain. Every registered encoder can build
a tiny instance (:meth:`Encoder.tiny`) and random inputs of its declared shape
(:meth:`Encoder.example_inputs`), which ``tests/encoders/test_contract.py`` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

__all__ = ["Encoder", "ENCODERS", "register_encoder", "build_encoder"]

E = TypeVar("E", bound=type["Encoder"])

ENCODERS: dict[str, type[Encoder]] = {}


class Encoder(nn.Module):
    """Base class of biocl encoders.

    Subclasses set ``modality`` and ``output_dim`` and implement :meth:`example_inputs`
    (keyword arguments of ``forward`` with the declared shapes), :meth:`output_shape`
    and :meth:`tiny` (a small instance for tests).
    """

    modality: ClassVar[str] = ""
    output_dim: int

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Random keyword inputs of the declared shape for ``forward``."""
        raise NotImplementedError

    def output_shape(self, batch_size: int) -> tuple[int, ...]:
        """The shape ``forward(**example_inputs(batch_size))`` returns."""
        return (batch_size, self.output_dim)

    @classmethod
    def tiny(cls) -> Encoder:
        """A small instance for contract tests."""
        raise NotImplementedError


def register_encoder(name: str) -> Callable[[E], E]:
    """Class decorator adding an encoder to :data:`ENCODERS` under ``name``."""

    def decorate(cls: E) -> E:
        if name in ENCODERS:
            raise ValueError(f"encoder {name!r} registered twice")
        ENCODERS[name] = cls
        return cls

    return decorate


def build_encoder(name: str, **kwargs: Any) -> Encoder:
    """Instantiate a registered encoder."""
    if name not in ENCODERS:
        from biocl.utils.errors import BioclError

        raise BioclError(f"unknown encoder {name!r}; known: {', '.join(sorted(ENCODERS))}")
    return ENCODERS[name](**kwargs)
