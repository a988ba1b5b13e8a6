"""Reading real formats, windowing, caching, and the simulators that write those same formats.

One folder per domain; each domain's simulator writes the formats its readers read, so the
demo's simulated data go through the readers real data use:

=================  ========================================================================
``meg/``           M/EEG recordings (any format MNE reads, BIDS through mne-bids), word
                   events and sensor positions (``recording``, ``bids``); the paper's
                   preprocessing: 120 Hz windows (``windows``), sentence-hash splits
                   (``splits``), baseline and robust scaling (``scaling``)
``meg/simulate/``  a simulated BIDS speech-listening data set and its oracle (``dataset``,
                   ``generative``, ``sensors``, ``writer``)
``speech/``        speech audio and word timings (``reading``), mel / envelope / wav2vec 2.0
                   features (``features``), the on-disk feature cache (``cache``), simulated
                   stimuli (``simulate``)
``dna/``           FASTA/FASTQ, gold standards and bioboxes (``fasta``); windows and positive
                   pairs (``windows``); TNF baselines (``tnf``); synthetic genomes, contigs
                   and reads (``simulate``)
``audio/``         sound readers for manifests, ESC-50 and FSDD (``reading``), "A before /
                   while B" compositions (``compose``), synthetic sound events in the ESC-50
                   layout (``simulate``)
=================  ========================================================================

Each domain package re-exports its public names (``from biocl.data.dna import
read_sequences``); this package imports none of them, so reading DNA never imports the
MEG or speech code, and no domain imports MNE before it reads a recording.
"""
