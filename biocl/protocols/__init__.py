"""The protocol schema: the common sections, and one module of typed sections per pipeline.

:mod:`~biocl.protocols.base` holds what every protocol shares (identity, ``train``,
``acceptance``), loading and ``--set`` overrides. Each pipeline's module declares its
``data``/``model``/``loss``/``evaluate`` sections and its name, once, through
:func:`~biocl.protocols.base.register_sections`; importing this package registers all of
them. Nothing here imports a pipeline.
"""

from biocl.protocols import audio_temporal, brain_speech, dna_species
from biocl.protocols.base import (Acceptance, Phase, PipelineSections, Protocol, Section, ThresholdRule, TrainConfig,
                                  apply_overrides, load_protocol, parse_overrides, pipeline_names,
                                  protocol_to_yaml, register_sections, validate_protocol)

__all__ = ["Section", "Phase", "TrainConfig", "Acceptance", "ThresholdRule", "Protocol", "PipelineSections", "register_sections",
           "pipeline_names", "load_protocol", "validate_protocol", "parse_overrides", "apply_overrides",
           "protocol_to_yaml", "brain_speech", "dna_species", "audio_temporal"]
