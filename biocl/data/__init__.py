"""Reading real formats, windowing, caching, and the simulators that write those same formats.

One module per domain, so the demo's simulated data go through the readers real data use:

| module | what |
|---|---|
| ``meg``, ``bids`` | M/EEG recordings (any format MNE reads, BIDS through mne-bids), word events, sensor positions |
| ``speech``, ``cache`` | speech audio, mel / envelope / wav2vec 2.0 features, the on-disk feature cache |
| ``brain_windows`` | the paper's preprocessing: 120 Hz windows, baseline, robust scaling, clamp, splits |
| ``simulate_meg`` (+ ``simulate_meg_*``, ``simulate_speech``) | a BIDS speech-listening data set and its oracle |
| ``dna``, ``tnf`` | FASTA/FASTQ, gold standards, windows and positive pairs; TNF baselines |
| ``simulate_dna`` | synthetic genomes with species and strains; contigs/reads with an error model |
| ``audio``, ``compose`` | sound readers (manifest, ESC-50, FSDD) and "A before/while B" compositions |
| ``simulate_audio`` | synthetic sound-event classes in the ESC-50 layout |

Modules are imported where they are used (``from biocl.data.dna.fasta import read_sequences``), so
reading DNA never imports MNE.
"""
