"""Brain-to-speech decoding (Défossez et al. 2023), one job per module.

``data`` (the data set, windows, speech features and splits), ``pipeline`` (training, ``run``,
and prediction on new recordings), ``evaluation`` (segment identification, the deep model's
scores, chance and permutation tests).
"""

from biocl.pipelines.brain_speech.pipeline import run
from biocl.protocols.brain_speech import SECTIONS

__all__ = ["SECTIONS", "run"]
