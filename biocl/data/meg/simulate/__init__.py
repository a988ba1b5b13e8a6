"""The simulated M/EEG speech-listening data set, written as BIDS so the real readers load it.

==============  ============================================================================
``dataset``     :func:`simulate_meg_bids` (the entry point), reading a simulation back, the oracle
``generative``  how speech drives the brain: acoustic drive, TRFs, word responses, schedules
``sensors``     sensor systems, dipole sources, the spherical forward model, noise
``writer``      the stimuli, recordings, sidecars and generative model on disk
==============  ============================================================================

The package re-exports what a user of a simulation needs; the steps of the simulation are
importable from their modules.
"""

from biocl.data.meg.simulate.dataset import (
    DERIVATIVES,
    SimulatedDataset,
    load_model,
    load_simulation,
    oracle_scores,
    simulate_meg_bids,
    simulation_parameters,
)
from biocl.data.meg.simulate.generative import MODEL_SFREQ_HZ, GenerativeModel
from biocl.data.meg.simulate.sensors import SYSTEMS

__all__ = [
    "SimulatedDataset", "simulate_meg_bids", "simulation_parameters", "load_simulation", "load_model",
    "oracle_scores", "DERIVATIVES", "GenerativeModel", "MODEL_SFREQ_HZ", "SYSTEMS",
]
