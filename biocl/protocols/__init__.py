"""The protocol schema: common sections in :mod:`~biocl.protocols.base`, one module per pipeline."""

from biocl.protocols.base import (PIPELINE_NAMES, Acceptance, Phase, Protocol, Section, TrainConfig, apply_overrides,
                                  load_protocol, parse_overrides, protocol_to_yaml, register_sections,
                                  validate_protocol)

__all__ = ["Section", "Phase", "TrainConfig", "Acceptance", "Protocol", "register_sections", "load_protocol",
           "validate_protocol", "parse_overrides", "apply_overrides", "protocol_to_yaml", "PIPELINE_NAMES"]
