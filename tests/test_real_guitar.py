"""The tracker on 109 recorded guitar notes: six open strings on 17 guitars and phones.

The recordings live outside the repository (``../shared/data/real-guitar-notes``, or
``FRETCOACH_REAL_NOTES``); without them these tests skip. Each clip holds one plucked
open string; its label is the string's note and a hand-marked onset.

A clip reads right when the note that covers most of the 0.1–0.6 s after the marked onset
has the labelled name. That judges the pitch, not the onset convention: some labellers
marked the first touch of the pick, others the pluck ~60 ms later (``make bench`` reports
onsets at ±50 ms against the labels as they are).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from device.wavread import read_wav
from dsp import NoteEvent, NoteTracker, TrackerConfig, hops_of, note_name

REAL_NOTES = Path(
    os.environ.get(
        "FRETCOACH_REAL_NOTES",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "real-guitar-notes",
    )
)
# Measured 108 of 109 (the Strandberg low E, read as its 7th partial) when the floor was
# set; the floor leaves room for three more misses.
ACCURACY_FLOOR = 0.963

pytestmark = pytest.mark.skipif(
    not (REAL_NOTES / "labels.csv").is_file(),
    reason=f"real guitar notes not found at {REAL_NOTES} (set FRETCOACH_REAL_NOTES)",
)


@dataclass(frozen=True)
class Label:
    file: str
    midi: int
    onset_s: float


def labels() -> list[Label]:
    with (REAL_NOTES / "labels.csv").open(newline="") as f:
        return [Label(r["file"], int(r["midi"]), float(r["onset_s"])) for r in csv.DictReader(f)]


def final_notes(path: Path) -> list[NoteEvent]:
    return notes_of(*read_wav(path))


def notes_of(samples: np.ndarray, rate: int) -> list[NoteEvent]:
    tracker = NoteTracker(TrackerConfig(sample_rate=rate))
    events = [e for hop, _ in hops_of(samples) for e in tracker.process(hop)]
    return [e for e in events + tracker.flush() if e.is_final]


def reading(notes: list[NoteEvent], onset_s: float) -> NoteEvent | None:
    """The note covering most of 0.1–0.6 s after the marked onset."""
    start, stop = onset_s + 0.1, onset_s + 0.6

    def overlap(n: NoteEvent) -> float:
        return min(stop, n.end_s or stop) - max(start, n.onset_s)

    covering = [n for n in notes if overlap(n) > 0]
    return max(covering, key=overlap, default=None)


def test_open_strings_read_their_names() -> None:
    wrong = []
    clips = labels()
    for label in clips:
        note = reading(final_notes(REAL_NOTES / label.file), label.onset_s)
        if note is None or note.midi != label.midi:
            got = "nothing" if note is None else f"{note_name(note.midi)}{note.cents:+.0f}"
            wrong.append(f"{label.file}: {note_name(label.midi)} read {got}")
    accuracy = 1 - len(wrong) / len(clips)
    assert accuracy >= ACCURACY_FLOOR, "\n".join(wrong)


def test_low_e_with_a_fundamental_31_db_down_reads_e2() -> None:
    # Its 82 Hz fundamental is ~31 dB under the 2nd harmonic: reading E3 is an octave error.
    notes = final_notes(REAL_NOTES / "guitar_1__e2.wav")
    note = reading(notes, 0.3)
    assert note is not None
    assert note_name(note.midi) == "E2", notes


def test_a_pluck_is_one_note() -> None:
    """Each clip holds one pluck: notes besides the one that covers it are phantoms (the
    room before it, the pick's touch, a sustained note re-triggered as it rings). Measured
    5 in 109 clips (7 before the room, the held touches and the re-pick test changed)."""
    stray = []
    for label in labels():
        notes = final_notes(REAL_NOTES / label.file)
        main = reading(notes, label.onset_s)
        stray += [f"{label.file}: {note_name(n.midi)} at {n.onset_s:.2f} s"
                  for n in notes if n is not main]  # fmt: skip
    assert len(stray) <= 6, "\n".join(stray)


def all_events(path: Path) -> list[NoteEvent]:
    samples, rate = read_wav(path)
    tracker = NoteTracker(TrackerConfig(sample_rate=rate))
    events = [e for hop, _ in hops_of(samples) for e in tracker.process(hop)]
    return events + tracker.flush()


def test_the_live_screen_is_corrected_to_the_final_name_while_the_note_sounds() -> None:
    """A real low string is often first read as a partial or an octave off (the early window
    is short); the harmonic sum at the report puts most of those right, and the screen's
    name is corrected while the note sounds for the rest, so it ends on the final name.
    Measured 125 of 129 notes ending right (28 corrected) before the harmonic sum; with it
    112 of 114, 107 of them shown right first, 7 corrected."""
    ended_right = corrected = total = first_right = 0
    for label in labels():
        events = all_events(REAL_NOTES / label.file)
        for final in (e for e in events if e.is_final):
            shown = [e.midi for e in events if not e.is_final and e.onset_s == final.onset_s]
            if not shown:
                continue
            total += 1
            ended_right += shown[-1] == final.midi
            corrected += len(shown) > 1 and shown[0] != shown[-1]
            first_right += shown[0] == final.midi
            # A correction keeps the first report's time: the note did not start again.
            reports = [e for e in events if not e.is_final and e.onset_s == final.onset_s]
            assert len({e.reported_s for e in reports}) == 1
    assert total >= 100
    assert ended_right / total >= 0.94
    assert first_right / total >= 0.9  # the first name shown is mostly right already
    assert corrected >= 4  # the correction path is still exercised by real recordings


def test_a_recording_cut_at_the_pluck_still_has_its_note() -> None:
    """No room before the first note (a sample library's one-note files, a take trimmed
    to the pluck): the note that opens the stream is heard, at its right name. Cut 20 ms
    before the label, 108 of 109 (measured); cut at the label (which marks the pick's
    touch, some 50–80 ms before the pluck), 92."""
    for lead_s, floor in ((0.02, 0.97), (0.0, 0.8)):
        found = 0
        clips = labels()
        for label in clips:
            samples, rate = read_wav(REAL_NOTES / label.file)
            cut = samples[max(0, round((label.onset_s - lead_s) * rate)) :]
            tracker = NoteTracker(TrackerConfig(sample_rate=rate))
            events = [e for hop, _ in hops_of(cut) for e in tracker.process(hop)]
            finals = [e for e in events + tracker.flush() if e.is_final]
            opening = [n for n in finals if n.onset_s < min(label.onset_s, lead_s) + 0.1]
            found += any(n.midi == label.midi for n in opening)
        assert found >= floor * len(clips), (lead_s, found)


def test_a_low_e_whose_phone_lost_its_fundamental_is_first_shown_as_e2() -> None:
    """After its own room noise (as ``make bench`` plays it), this phone's low E reads as
    E2 in the main window, but at the attack it recorded it mostly as its 3rd partial (B3,
    11 dB over all the rest), and E2's period fits a third of it nearly as well. E2's
    partials 2 and 4 are there, which B3 has not: the screen shows E2 from the first
    report (it showed B3 until the final name)."""
    from bench.evalset import real_clips

    clip = next(c for c in real_clips(REAL_NOTES) if "Grand_Acoustic__iPhone_7__E2" in c.name)
    tracker = NoteTracker(TrackerConfig(sample_rate=48000))
    events = [e for hop, _ in hops_of(clip.audio) for e in tracker.process(hop)]
    events += tracker.flush()
    finals = [e for e in events if e.is_final and note_name(e.midi) == "E2"]
    assert finals, events
    first = next(e for e in events if e.index == finals[0].index)
    assert note_name(first.midi) == "E2", events


def test_a_burst_of_an_amps_room_heard_first_is_no_note() -> None:
    """This amp's room, as ``make bench`` plays it before the pluck, swings ~10 dB from hop
    to hop; 50 ms into the stream, with five hops of it heard, a burst with an unsure pitch
    stood 9 dB over the room guessed from them and was reported as F#2. Until the room is
    measured an unsure note must stand 12 dB clear of it: the clip is one note, A2."""
    from bench.evalset import real_clips

    clip = next(c for c in real_clips(REAL_NOTES) if "Music_Man_JP_6_amp__iPhone_7__A2" in c.name)
    tracker = NoteTracker(TrackerConfig(sample_rate=48000))
    events = [e for hop, _ in hops_of(clip.audio) for e in tracker.process(hop)]
    finals = [e for e in events + tracker.flush() if e.is_final]
    assert [note_name(e.midi) for e in finals] == ["A2"], finals


def test_a_string_ringing_into_a_phones_room_is_one_note() -> None:
    """This E4 sinks to within 3 dB of the phone's room ~1.2 s after the pluck, which ends
    the note, while the string rings on and YIN reads it surely: that tail, with no
    attack, started a short second E4 (the note just ended let it stand out)."""
    notes = final_notes(REAL_NOTES / "Fender_Stratocaster_unplugged__iPhone_11__E4.wav")
    assert [note_name(n.midi) for n in notes] == ["E4"], notes


def test_a_quiet_recording_of_a_decaying_string_is_one_note() -> None:
    """This D3 15 dB quieter (its loudest hop near −40 dBFS, a quiet input): the string
    decays to −57 dBFS, where aubio's specdiff is a few bins' noise. A note may start under
    the gate on such an input, but not while one sounds: a re-trigger at 3.3 s did."""
    samples, rate = read_wav(REAL_NOTES / "Yamaha_2_Acoustic__Nothing_Phone_2a__D3.wav")
    notes = notes_of(samples * np.float32(10.0 ** (-15.0 / 20.0)), rate)
    assert [note_name(n.midi) for n in notes] == ["D3"], notes


def test_a_clipped_low_e_read_at_its_partials_is_one_note() -> None:
    """This E2 12 dB hotter, clipped, after its room (as the bench plays it): first shown
    as E2, then YIN's frames drift to its 3rd partial (B3) and read E3 steadily, 7
    semitones from that; a legato note was started, though E3 is the octave of the E2 the
    screen showed. A new pitch that is a harmonic of a name shown is the note still."""
    from bench import evalset

    clip = next(
        c for c in evalset.real_clips(REAL_NOTES) if "Grand_Acoustic__iPhone_7__E2" in c.name
    )
    notes = notes_of(np.clip(clip.audio * np.float32(4.0), -1.0, 1.0), evalset.SR)
    assert [note_name(n.midi) for n in notes] == ["E2"], notes


def test_a_pick_touch_back_in_the_room_by_its_deadline_is_no_note() -> None:
    """85 ms before this A2's pluck the pick touched the string: a 2.7 ms click 18 dB over
    the phone's room, its hops back within 3 dB of the room (where a sounding note ends)
    by the report deadline, with no steady pitch. It was reported as A#3, and the pluck,
    14.9 dB louder, fell 0.1 dB short of dropping it as a blip."""
    notes = final_notes(REAL_NOTES / "Fender_Stratocaster_unplugged__iPhone_11__A2.wav")
    assert [note_name(n.midi) for n in notes] == ["A2"], notes


@pytest.mark.parametrize("note", ["B3", "D3", "E4", "G3"])
def test_the_onset_does_not_move_with_the_sample_rate(note: str) -> None:
    """These plucks rise across a hop's boundary: the first triggering block is the quiet
    start of the rise, and half its RMS is a level the pick's touch already crossed, so
    the onset landed 10–14 ms early at 44.1 kHz and not at 48. Timed from the loudest
    triggering block, the clip gives one note at the same time at either rate."""
    samples, rate = read_wav(REAL_NOTES / f"CS_Telecaster_amp__iPhone_11__{note}.wav")
    resampled = resample_poly(samples, 147, 160).astype(np.float32)
    at_48k, at_44k = notes_of(samples, rate), notes_of(resampled, 44100)
    assert [note_name(n.midi) for n in at_48k] == [note_name(n.midi) for n in at_44k] == [note]
    assert at_44k[0].onset_s == pytest.approx(at_48k[0].onset_s, abs=0.003)
