"""Speech stimuli for the simulated M/EEG data set: procedural speech-like audio or real WAVs.

The procedural voice is a small source-filter synthesiser. A *vocabulary* of pseudo-words
is drawn once; each word is one to three consonant-vowel syllables. A syllable is a
harmonic series on a fundamental frequency (a pitch contour that falls over the
word and rises on stressed syllables) whose harmonics are weighted by three formant
bands set by the vowel, preceded by a consonant: a noise burst (plosive), band-limited
hiss (fricative) or a low murmur (nasal). Words are separated by short pauses and
sentences (a few words of the vocabulary) are written one per WAV file. The same
sentences are heard by every simulated subject, so they repeat across subjects as in a
real experiment.

With a folder of real recordings (WAV + the LibriVox/pocketsphinx JSON of word timings,
e.g. ``../shared/data/speech/librivox``), each file is one stimulus sentence instead.

:func:`stories` joins consecutive sentences into story-length files, as real experiments
play them (MEG-MASC: four stories, each several minutes of continuous read speech); each
word then carries the sentence it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biocl.utils.errors import BioclError

__all__ = ["Stimulus", "synthetic_stimuli", "real_stimuli", "stories", "SPEECH_SFREQ_HZ", "SENTENCE_PAUSE_S"]

#: Sampling rate of every stimulus, in Hz.
SPEECH_SFREQ_HZ = 16000
#: Silence between two sentences of a story, in seconds: the usual sentence-boundary pause
#: of read speech (about half a second; Goldman-Eisler 1968, *Psycholinguistics*).
SENTENCE_PAUSE_S = 0.5

# Vowel formants F1, F2, F3 in Hz (adult speaker averages).
_VOWELS = {"a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010),
           "o": (570, 840, 2410), "u": (300, 870, 2240)}
# Consonant kinds: plosive burst, fricative hiss band (Hz), nasal murmur.
_CONSONANTS = {"p": ("plosive", (500, 2500)), "t": ("plosive", (2500, 6000)), "k": ("plosive", (1500, 3500)),
               "b": ("plosive", (300, 1500)), "d": ("plosive", (2000, 5000)), "g": ("plosive", (1200, 3000)),
               "s": ("fricative", (4000, 7500)), "f": ("fricative", (1500, 7000)), "z": ("fricative", (3500, 7000)),
               "m": ("nasal", (200, 400)), "n": ("nasal", (200, 500)), "l": ("nasal", (300, 1200)),
               "r": ("nasal", (300, 1500))}


@dataclass(frozen=True)
class Stimulus:
    """One stimulus file: a sentence and where its words are.

    Attributes
    ----------
    name : str
        File name under ``stimuli/`` (``sentence_003.wav``).
    sentence : str
        The words, space separated.
    words : tuple of (str, float, float)
        ``(word, onset_s, duration_s)`` inside the file.
    wave : np.ndarray
        ``(T,)`` float32 mono audio at :data:`SPEECH_SFREQ_HZ`.
    word_sentences : tuple of str
        The sentence of each word, for a file holding several sentences (a story); empty
        when the whole file is the one sentence ``sentence``.
    """

    name: str
    sentence: str
    words: tuple[tuple[str, float, float], ...]
    wave: np.ndarray
    word_sentences: tuple[str, ...] = ()

    def sentence_of(self, position: int) -> str:
        """The sentence of word ``position``."""
        return self.word_sentences[position] if self.word_sentences else self.sentence

    @property
    def duration_s(self) -> float:
        """Length of the audio, in seconds."""
        return len(self.wave) / SPEECH_SFREQ_HZ


@dataclass(frozen=True)
class _Syllable:
    consonant: str
    vowel: str
    duration_s: float
    stress: float


def _vocabulary(n_words: int, rng: np.random.Generator) -> dict[str, tuple[_Syllable, ...]]:
    consonants, vowels = sorted(_CONSONANTS), sorted(_VOWELS)
    words: dict[str, tuple[_Syllable, ...]] = {}
    while len(words) < n_words:
        n_syllables = int(rng.choice([1, 2, 3], p=[0.35, 0.45, 0.2]))
        stressed = int(rng.integers(n_syllables))
        syllables = tuple(
            _Syllable(consonant=str(rng.choice(consonants)), vowel=str(rng.choice(vowels)),
                      duration_s=float(rng.uniform(0.13, 0.24)), stress=1.0 if i == stressed else 0.6)
            for i in range(n_syllables))
        spelling = "".join(s.consonant + s.vowel for s in syllables)
        words.setdefault(spelling, syllables)
    return words


def _band_noise(n: int, band_hz: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SPEECH_SFREQ_HZ)
    spectrum[(freqs < band_hz[0]) | (freqs > band_hz[1])] = 0.0
    noise = np.fft.irfft(spectrum, n)
    return noise / (np.abs(noise).max() + 1e-12)


def _syllable_wave(syllable: _Syllable, f0_hz: float, rng: np.random.Generator) -> np.ndarray:
    sr = SPEECH_SFREQ_HZ
    kind, band = _CONSONANTS[syllable.consonant]
    consonant_s = {"plosive": 0.03, "fricative": 0.08, "nasal": 0.05}[kind]
    n_consonant, n_vowel = int(consonant_s * sr), int(syllable.duration_s * sr)
    t = np.arange(n_vowel) / sr
    # Pitch: a rise-fall accent on stressed syllables, a slight fall otherwise.
    contour = f0_hz * (1.0 + 0.12 * syllable.stress * np.sin(np.pi * t / t[-1]) - 0.05 * t / t[-1])
    phase = 2 * np.pi * np.cumsum(contour) / sr
    formants = np.array(_VOWELS[syllable.vowel], dtype=float) * rng.uniform(0.95, 1.05, size=3)
    bandwidths = np.array([80.0, 110.0, 160.0])
    gains = np.array([1.0, 0.6, 0.25])
    n_harmonics = int(7000 // (f0_hz * 1.2))
    voiced = np.zeros(n_vowel)
    for k in range(1, n_harmonics + 1):
        freq = k * contour
        weight = (gains[:, None] * np.exp(-0.5 * ((freq[None, :] - formants[:, None]) / bandwidths[:, None]) ** 2)).sum(0)
        voiced += (weight + 0.02 / k) * np.sin(k * phase)
    ramp = np.minimum(1.0, np.minimum(t / 0.02, (t[-1] - t) / 0.04))
    voiced *= syllable.stress * np.clip(ramp, 0.0, 1.0) / (np.abs(voiced).max() + 1e-12)
    if kind == "nasal":
        murmur_t = np.arange(n_consonant) / sr
        onset = 0.3 * np.sin(2 * np.pi * f0_hz * murmur_t) * np.hanning(n_consonant)
    else:
        scale = 0.5 if kind == "plosive" else 0.25
        envelope = np.exp(-np.arange(n_consonant) / (0.3 * n_consonant)) if kind == "plosive" else np.hanning(n_consonant)
        onset = scale * _band_noise(n_consonant, band, rng) * envelope
    return np.concatenate([onset, voiced])


def synthetic_stimuli(
    n_sentences: int,
    rng: np.random.Generator,
    *,
    n_words: int = 40,
    words_per_sentence: tuple[int, int] = (4, 8),
) -> list[Stimulus]:
    """Procedural speech-like sentences, one per stimulus, from a fixed vocabulary.

    Parameters
    ----------
    n_sentences : int
        Number of distinct sentences.
    rng : np.random.Generator
        Source of every random choice.
    n_words : int
        Vocabulary size; sentences draw words from it (Zipf-like frequencies), so words
        recur across sentences.
    words_per_sentence : (int, int)
        Inclusive range of sentence lengths, in words.

    Returns
    -------
    list of Stimulus
        Named ``sentence_000.wav`` ...; each starts and ends with 0.15 s of silence and
        words are 40-150 ms apart.

    Notes
    -----
    Each word of the vocabulary is synthesised once, with its own pitch (100-180 Hz), and
    every occurrence reuses that recording at a loudness that declines over the sentence,
    as a concatenative synthesiser would: synthesis costs the vocabulary, not the corpus.
    """
    vocabulary = _vocabulary(n_words, rng)
    spellings = sorted(vocabulary)
    recordings = {word: np.concatenate([_syllable_wave(s, float(rng.uniform(100.0, 180.0)), rng)
                                        for s in vocabulary[word]]) for word in spellings}
    frequency = 1.0 / np.arange(1, len(spellings) + 1) ** 0.8
    frequency /= frequency.sum()
    order = rng.permutation(len(spellings))
    stimuli, seen = [], set()
    sr = SPEECH_SFREQ_HZ
    while len(stimuli) < n_sentences:
        length = int(rng.integers(words_per_sentence[0], words_per_sentence[1] + 1))
        words = [spellings[order[i]] for i in rng.choice(len(spellings), size=length, p=frequency)]
        sentence = " ".join(words)
        if sentence in seen:
            continue
        seen.add(sentence)
        pieces, timings, cursor = [np.zeros(int(0.15 * sr))], [], int(0.15 * sr)
        for position, word in enumerate(words):
            audio = recordings[word] * (1.0 - 0.3 * position / max(1, length - 1))
            timings.append((word, cursor / sr, len(audio) / sr))
            pause = np.zeros(int(rng.uniform(0.04, 0.15) * sr))
            pieces += [audio, pause]
            cursor += len(audio) + len(pause)
        pieces.append(np.zeros(int(0.15 * sr)))
        wave = np.concatenate(pieces)
        wave = (0.3 * wave / (np.abs(wave).max() + 1e-12)).astype(np.float32)
        stimuli.append(Stimulus(name=f"sentence_{len(stimuli):03d}.wav", sentence=sentence,
                                words=tuple(timings), wave=wave))
    return stimuli


def real_stimuli(speech_dir: str | Path) -> list[Stimulus]:
    """Real recordings with word timings: every ``*.wav`` beside a ``*.json`` of the same name.

    Each file becomes one stimulus sentence; its text is its words (silences dropped).

    Raises
    ------
    BioclError
        If the folder holds no WAV with a word-timing JSON.
    """
    from biocl.data.speech.reading import read_speech, read_word_timings

    speech_dir = Path(speech_dir)
    if not speech_dir.is_dir():
        raise BioclError("no such speech folder", path=speech_dir, hint="give a folder of WAV + word-timing JSON files")
    stimuli = []
    for wav in sorted(speech_dir.glob("*.wav")):
        timings_path = wav.with_suffix(".json")
        if not timings_path.exists():
            continue
        words = [(word.lower(), onset, duration) for word, onset, duration in read_word_timings(timings_path)]
        if not words:
            continue
        wave = read_speech(wav, SPEECH_SFREQ_HZ).numpy()
        stimuli.append(Stimulus(name=wav.name, sentence=" ".join(w for w, _, _ in words),
                                words=tuple(words),
                                wave=wave.astype(np.float32)))
    if not stimuli:
        raise BioclError("no WAV file with a word-timing JSON beside it", path=speech_dir,
                         hint='expected name.wav + name.json ({"w": [{"b": onset_s, "d": duration_s, "t": word}]})')
    return stimuli


def stories(sentences: list[Stimulus], sentences_per_sound: int, *,
            pause_s: float = SENTENCE_PAUSE_S) -> list[Stimulus]:
    """Join consecutive sentences into files of ``sentences_per_sound`` sentences (the last may hold fewer).

    Parameters
    ----------
    sentences : list of Stimulus
        One sentence each, in story order.
    sentences_per_sound : int
        Sentences per file; 1 returns ``sentences`` unchanged.
    pause_s : float
        Silence inserted between two sentences, in seconds.

    Returns
    -------
    list of Stimulus
        Named ``story_000.wav`` ...; ``words`` hold onsets in the story file and
        ``word_sentences`` the sentence of each word.
    """
    if sentences_per_sound < 1:
        raise ValueError(f"sentences_per_sound must be >= 1, got {sentences_per_sound}")
    if sentences_per_sound == 1:
        return list(sentences)
    out = []
    gap = np.zeros(int(round(pause_s * SPEECH_SFREQ_HZ)), np.float32)
    for start in range(0, len(sentences), sentences_per_sound):
        group = sentences[start:start + sentences_per_sound]
        pieces, words, owners, cursor = [], [], [], 0
        for i, sentence in enumerate(group):
            if i:
                pieces.append(gap)
                cursor += gap.size
            words += [(word, onset + cursor / SPEECH_SFREQ_HZ, duration) for word, onset, duration in sentence.words]
            owners += [sentence.sentence] * len(sentence.words)
            pieces.append(sentence.wave)
            cursor += sentence.wave.size
        out.append(Stimulus(name=f"story_{len(out):03d}.wav", sentence=" ".join(s.sentence for s in group),
                            words=tuple(words), wave=np.concatenate(pieces).astype(np.float32),
                            word_sentences=tuple(owners)))
    return out
