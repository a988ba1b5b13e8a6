"""The one YAML reader of protocols: a safe loader without anchors or aliases, with bounded nesting."""

from __future__ import annotations

from typing import Any

import yaml

from biocl.utils.errors import BioclError

__all__ = ["MAX_PROTOCOL_DEPTH", "MAX_PROTOCOL_BYTES", "read_yaml"]


#: Deepest nesting of mappings and lists a protocol may have (the shipped ones use 4).
MAX_PROTOCOL_DEPTH = 64
#: Largest protocol file (bytes); the shipped ones are under 5 kB.
MAX_PROTOCOL_BYTES = 1 << 20


class _ProtocolLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses anchors and aliases and bounds the nesting depth.

    Aliases are what let a 2 kB file expand to gigabytes (the "billion laughs"); a protocol
    never needs them. The depth is checked while composing, before any recursion deep
    enough to exhaust the stack and before pydantic sees the document.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise BioclError(f"line {line}: YAML anchors and aliases (&name, *name) are not allowed in a protocol",
                             hint="write each value out in full")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._depth += 1
            try:
                if self._depth > MAX_PROTOCOL_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark else "?"
                    raise BioclError(f"line {line}: nested more than {MAX_PROTOCOL_DEPTH} levels deep",
                                     hint="a protocol's sections are a few levels deep; check the file")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)


def read_yaml(text: str) -> Any:
    """Parse protocol YAML (a file or a ``--set`` value) with :class:`_ProtocolLoader`.

    The one YAML reader of protocols: ``protocols validate``, ``protocols show``, ``run``
    and ``--set`` all go through it.

    Raises
    ------
    BioclError
        Not YAML, an anchor or alias, or nesting deeper than :data:`MAX_PROTOCOL_DEPTH`.
    """
    loader = None
    try:
        loader = _ProtocolLoader(text)
        return loader.get_single_data()
    except yaml.YAMLError as err:
        raise BioclError(f"not a valid YAML file ({_short(err)})") from None
    finally:
        if loader is not None:
            loader.dispose()


def _short(err: Exception) -> str:
    text = str(err).splitlines()
    return text[0] if text else type(err).__name__
