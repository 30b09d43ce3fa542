"""Peer note trackers for the benchmark: aubio and librosa used plainly, out of the box.

    notes = PEERS["aubio hfc+yinfast"](samples, 48000)  # float32 mono -> [PeerNote, ...]

Each peer is what a competent developer writes with the library's documented defaults:
onsets start notes, and a note's pitch is the median of the pitch frames the library
trusts, from 20 ms after the onset to the next onset (300 ms at most). Nothing here is
tuned to the benchmark's audio; every setting is either the library's default or one
line with its reason. The peers are baselines to be beaten honestly, so they get none of
the tracker's fixes (octave checks, level gates, legato splitting).

The note-forming rule is shared (:func:`_notes_from_frames`), so the peers differ only
in what the libraries themselves report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aubio
import numpy as np

from dsp.errors import FretCoachError
from dsp.notes import hz_to_midi

# aubio: the sizes its own docs and demos use for pitch and onsets (hop 256 ≈ 5.3 ms at
# 48 kHz). 2048 samples, not 1024: yinfast looks for periods up to half its window, and
# 1024 / 2 at 48 kHz stops at ~94 Hz, above the guitar's low E.
AUBIO_HOP = 256
AUBIO_ONSET_WINDOW = 1024
AUBIO_PITCH_WINDOW = 2048
# aubio's python/demos/demo_pitch.py masks frames whose confidence is under 0.8.
AUBIO_MIN_CONFIDENCE = 0.8

# librosa.load resamples to 22050 Hz unless told otherwise, and every librosa default
# (onset hop 512, pyin's 2048-sample frame) is sized for that rate; pyin also runs ~2x
# faster there than at 48 kHz.
LIBROSA_SR = 22050
LIBROSA_FRAME = 2048  # pyin's default frame length (93 ms at 22050 Hz: several periods of C2)
LIBROSA_HOP = LIBROSA_FRAME // 4  # pyin's default hop (23 ms)

# The first 20 ms after an onset is the pick's noise and the previous note's tail: skip it.
SKIP_AFTER_ONSET_S = 0.020
# Enough of a note's body for a stable median, short enough to stay inside fast notes.
MAX_NOTE_S = 0.300


@dataclass(frozen=True, slots=True)
class PeerNote:
    """One note as a peer reports it, comparable with our tracker's final notes."""

    onset_s: float
    midi: int  # nearest semitone
    cents: float  # deviation from it, -50..50


Peer = Callable[[np.ndarray, int], list[PeerNote]]


class PeerUnavailableError(FretCoachError, ImportError):
    """A peer's library is not installed; the message says how to install it."""


def aubio_plain(samples: np.ndarray, sr: int, *, onset_method: str = "hfc") -> list[PeerNote]:
    """aubio's onset detector plus ``yinfast``, streamed hop by hop as on a live input.

    Settings: ``aubio.onset(onset_method, 1024, 256, sr)`` with aubio's defaults for that
    method (hfc: threshold 0.058; specdiff: 0.3; both: minimum inter-onset 50 ms, silence
    −70 dB, a delay of 4.3 hops back-dated by ``get_last_s``); ``aubio.pitch("yinfast",
    2048, 256, sr)`` in Hz with its default tolerance (0.15) and silence gate (−50 dB).
    A pitch frame is timed at the start of its hop, as ``aubiopitch`` and aubio's demos
    print it; frames under :data:`AUBIO_MIN_CONFIDENCE` are ignored.

    Causal: a note's pitch uses audio up to 300 ms after its onset and nothing later, so a
    live version would report each note that long after it starts. The list is simply
    assembled once the stream ends.
    """
    audio = _mono_float32(samples)
    onset = aubio.onset(onset_method, AUBIO_ONSET_WINDOW, AUBIO_HOP, sr)
    pitch = aubio.pitch("yinfast", AUBIO_PITCH_WINDOW, AUBIO_HOP, sr)
    pitch.set_unit("Hz")

    n_hops = -(-len(audio) // AUBIO_HOP)
    padded = np.zeros(n_hops * AUBIO_HOP, dtype=np.float32)  # the last hop, zero-filled
    padded[: len(audio)] = audio
    onsets: list[float] = []
    frame_times: list[float] = []
    frame_hz: list[float] = []
    for i in range(n_hops):
        hop = padded[i * AUBIO_HOP : (i + 1) * AUBIO_HOP]
        if onset(hop)[0]:
            onsets.append(float(onset.get_last_s()))
        freq = float(pitch(hop)[0])
        if freq > 0.0 and pitch.get_confidence() >= AUBIO_MIN_CONFIDENCE:
            frame_times.append(i * AUBIO_HOP / sr)
            frame_hz.append(freq)
    return _notes_from_frames(onsets, np.asarray(frame_times), np.asarray(frame_hz))


def aubio_specdiff(samples: np.ndarray, sr: int) -> list[PeerNote]:
    """:func:`aubio_plain` with aubio's ``specdiff`` onsets (spectral difference)."""
    return aubio_plain(samples, sr, onset_method="specdiff")


def librosa_pyin(samples: np.ndarray, sr: int) -> list[PeerNote]:
    """librosa's ``onset_detect`` and ``pyin``, run offline on the whole signal.

    Settings: the audio is resampled to 22050 Hz (``librosa.resample`` with its default
    soxr_hq), as ``librosa.load`` would; ``librosa.onset.onset_detect(units="time",
    backtrack=False)`` with its defaults (hop 512, default peak picking);
    ``librosa.pyin(fmin=C2, fmax=C7, frame_length=2048)`` with the rest default (hop 512,
    its own voicing decision, and its pitch grid of 0.1 semitone, so a note's cents come
    in steps of 10, or 5 where the median falls between two bins). A note's pitch is the
    median f0 of the voiced frames, timed at their centres (``librosa.times_like``).
    Without backtracking its onsets land at the peak of the onset strength, typically
    10–25 ms after the attack.

    Not causal: onset peak picking and pyin's Viterbi smoothing both look at the whole
    signal, which a live device cannot do. That is fine for a peer: it is the best
    offline answer librosa gives without tuning, and a bar for ours to reach live.
    """
    try:
        import librosa  # heavy (numba, first use JIT-compiles); only this peer needs it
    except ImportError as err:
        raise PeerUnavailableError(
            "librosa is not installed, so the librosa peer cannot run: run `make setup-dev` "
            "(or `.venv/bin/pip install 'librosa>=0.10'`), or leave this peer out"
        ) from err

    audio = _mono_float32(samples)
    if sr != LIBROSA_SR:
        audio = librosa.resample(audio, orig_sr=sr, target_sr=LIBROSA_SR)
    onsets = librosa.onset.onset_detect(y=audio, sr=LIBROSA_SR, units="time", backtrack=False)
    f0, voiced, _ = librosa.pyin(
        audio,
        fmin=librosa.note_to_hz("C2"),
        fmax=librosa.note_to_hz("C7"),
        sr=LIBROSA_SR,
        frame_length=LIBROSA_FRAME,
        hop_length=LIBROSA_HOP,
    )
    times = librosa.times_like(f0, sr=LIBROSA_SR, hop_length=LIBROSA_HOP)
    keep = voiced & np.isfinite(f0)
    return _notes_from_frames([float(t) for t in onsets], times[keep], f0[keep])


PEERS: dict[str, Peer] = {
    "aubio hfc+yinfast": aubio_plain,
    "aubio specdiff+yinfast": aubio_specdiff,
    "librosa pyin+onset_detect": librosa_pyin,
}


def _notes_from_frames(
    onsets: Sequence[float], frame_times: np.ndarray, frame_hz: np.ndarray
) -> list[PeerNote]:
    """Each onset starts a note; its pitch is the median of the trusted frames in its span.

    The span runs from :data:`SKIP_AFTER_ONSET_S` after the onset to the next onset, or
    :data:`MAX_NOTE_S` at most. An onset with no trusted frame in its span (a click, a
    note drowned in noise) is not a note. Every peer forms notes here, so they are
    compared on what their libraries hear, not on how each turns frames into notes.
    """
    notes: list[PeerNote] = []
    for i, start in enumerate(onsets):
        next_onset = onsets[i + 1] if i + 1 < len(onsets) else math.inf
        end = min(next_onset, start + MAX_NOTE_S)
        span = (frame_times >= start + SKIP_AFTER_ONSET_S) & (frame_times < end)
        if not span.any():
            continue
        exact = hz_to_midi(float(np.median(frame_hz[span])))
        midi = round(exact)
        notes.append(PeerNote(onset_s=start, midi=midi, cents=(exact - midi) * 100.0))
    return notes


def _mono_float32(samples: np.ndarray) -> np.ndarray:
    """The contiguous float32 1-D array aubio insists on (it rejects float64 hops)."""
    if samples.ndim != 1:
        raise ValueError(f"peers take mono audio, got an array of shape {samples.shape}")
    return np.ascontiguousarray(samples, dtype=np.float32)
