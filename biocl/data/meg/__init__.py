"""M/EEG recorded while people listen to speech: reading, windowing, splits and scaling.

===============  ==========================================================================
``recording``    one recording in any format MNE reads, its word events, 2-D sensor positions
``bids``         a BIDS (or BIDS-like) data set: recordings and their ``events.tsv`` words
``windows``      resampling to 120 Hz and the training / word-onset windows, cut per batch
``splits``       sentences to train / valid / test by a hash, the same for every subject
``scaling``      baseline correction and the per-recording robust scaler
``simulate/``    a simulated BIDS data set written in these same formats, and its oracle
===============  ==========================================================================

MNE and mne-bids are imported inside the functions that read files, so windowing arrays
needs neither.
"""

from biocl.data.meg.bids import find_bids_recordings, parse_events_tsv, read_bids
from biocl.data.meg.recording import (
    Recording,
    check_rate,
    WordEvent,
    read_recording,
    read_trigger_file,
    recording_from_raw,
    sensor_positions,
    sentence_id,
)
from biocl.data.meg.scaling import RobustScaler, baseline_correct
from biocl.data.meg.splits import SPLITS, assign_splits, sentence_split
from biocl.data.meg.windows import (
    PreparedRecording,
    WindowConfig,
    WindowTable,
    batch_arrays,
    build_windows,
    extract_brain,
    extract_speech,
    fit_scalers,
    prepare_recording,
    resample_to,
)

__all__ = [
    "WordEvent", "Recording", "read_recording", "recording_from_raw", "sensor_positions", "sentence_id",
    "read_trigger_file", "check_rate",
    "read_bids", "parse_events_tsv", "find_bids_recordings",
    "WindowConfig", "resample_to", "PreparedRecording", "prepare_recording", "WindowTable", "build_windows",
    "fit_scalers", "extract_brain", "extract_speech", "batch_arrays",
    "SPLITS", "sentence_split", "assign_splits",
    "RobustScaler", "baseline_correct",
]
