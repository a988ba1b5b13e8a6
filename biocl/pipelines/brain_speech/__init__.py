"""Brain-to-speech decoding (Défossez et al. 2023), one job per module.

``data`` (the data set, windows, speech features and splits), ``pipeline`` (the net, its
training and ``run``), ``evaluation`` (segment identification of the deep model, the ridge
baseline and the oracle; permutation tests, per-subject tables), ``details`` (the report
material) and ``decoder`` (a trained run folder: re-scoring it, predicting on new
recordings). The ridge estimator and chance levels live in :mod:`biocl.evaluate.baselines`.
"""

from biocl.pipelines.brain_speech.pipeline import run
from biocl.protocols.brain_speech import SECTIONS

__all__ = ["SECTIONS", "run"]
