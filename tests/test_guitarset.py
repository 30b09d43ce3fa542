"""The FluidSynth guitar set: truth that round-trips and audio that matches it.

Rendering needs the ``fluidsynth`` command, the FluidR3 GM soundfont and mido; without
them the rendered tests skip with the reason. The shipped demo is checked without them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bench import guitarset
from bench.guitarset import Clip, MidiNote, load_clip, read_wav
from tests.signals import dbfs_to_amp

UNAVAILABLE = guitarset.rendering_unavailable()
needs_fluidsynth = pytest.mark.skipif(
    UNAVAILABLE is not None, reason=f"cannot render the guitar set: {UNAVAILABLE}"
)
DEMO_DIR = Path(__file__).resolve().parents[1] / "device" / "demo"


@pytest.fixture(scope="module")
def quick_set(tmp_path_factory: pytest.TempPathFactory) -> list[Clip]:
    return guitarset.build_set(tmp_path_factory.mktemp("guitarset"), quick=True)


@pytest.mark.rendered
@needs_fluidsynth
def test_truth_json_round_trips(quick_set: list[Clip]) -> None:
    assert len(quick_set) == 4
    for clip in quick_set:
        assert clip.json_path.is_file()
        assert load_clip(clip.json_path) == clip
        doc = json.loads(clip.json_path.read_text())
        assert Clip.from_json(doc, directory=clip.path.parent) == clip


@pytest.mark.rendered
@needs_fluidsynth
def test_truth_is_consistent(quick_set: list[Clip]) -> None:
    for clip in quick_set:
        assert clip.sr == guitarset.SR
        assert clip.scale in guitarset.SCALES
        assert clip.notes, clip.name
        onsets = [n.onset_s for n in clip.notes]
        assert onsets == sorted(onsets)
        for a, b in zip(clip.notes, clip.notes[1:], strict=False):
            assert a.onset_s + a.duration_s <= b.onset_s + 0.05, "monophonic: keys never overlap"
        for n in clip.notes:
            assert guitarset.MIDI_LO <= n.midi <= guitarset.MIDI_HI
            assert n.in_scale == guitarset.in_scale(n.midi, clip.scale)
            assert abs(n.cents) <= 31.0
            assert n.duration_s > 0


@pytest.mark.rendered
@needs_fluidsynth
def test_audio_sounds_at_every_truth_onset(quick_set: list[Clip]) -> None:
    for clip in quick_set:
        sr, x = read_wav(clip.path)
        assert sr == clip.sr
        assert len(x) / sr > clip.notes[-1].onset_s + clip.notes[-1].duration_s
        assert np.max(np.abs(x)) == pytest.approx(dbfs_to_amp(-3.0), abs=0.02)
        for n in clip.notes:
            i = round(n.onset_s * sr)
            attack = x[i : i + round(0.03 * sr)]
            rms = float(np.sqrt(np.mean(attack.astype(np.float64) ** 2)))
            assert rms > dbfs_to_amp(-40.0), f"{clip.name}: silent at {n.onset_s:.3f} s"


@pytest.mark.rendered
@needs_fluidsynth
def test_cached_set_is_not_rendered_again(quick_set: list[Clip]) -> None:
    cache = quick_set[0].path.parent
    before = {p: p.stat().st_mtime_ns for p in cache.glob("*.wav")}
    again = guitarset.build_set(cache, quick=True)
    assert again == quick_set
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*.wav")} == before


@pytest.mark.rendered
@needs_fluidsynth
@pytest.mark.parametrize(("patch", "midi"), [("clean", 57), ("nylon", 64), ("steel", 76)])
def test_detuned_notes_sound_at_their_truth_cents(patch: str, midi: int) -> None:
    """The whole-cent bend rule and the sample-tuning table, end to end."""
    targets = (-30.0, -10.0, 0.0, 10.0, 30.0)
    notes = []
    for i, target in enumerate(targets):
        bend, _ = guitarset.plan_note(patch, midi, target)
        notes.append(MidiNote(0.3 + 2.0 * i, midi, 0.8, bend, 90))
    end_s = notes[-1].on_s + 1.5
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "t.mid", Path(tmp) / "t.wav"
        guitarset.write_midi(notes, mid, program=guitarset.PROGRAMS[patch], end_s=end_s)
        x = guitarset.render_midi_to_wav(mid, wav, seconds=end_s, peak_dbfs=None)
    truth = guitarset.truth_for(notes, patch=patch, scale="A minor pentatonic")
    sr = guitarset.SR
    for note, t, target in zip(notes, truth, targets, strict=True):
        assert abs(t.cents - target) <= 0.5
        on = round(note.on_s * sr)
        steady = x[on + round(0.1 * sr) : on + round(0.6 * sr)].astype(np.float64)
        measured = guitarset.steady_cents(steady, sr, guitarset.midi_to_hz(midi))
        assert measured == pytest.approx(t.cents, abs=1.0)


@pytest.mark.skipif(not (DEMO_DIR / "demo.json").is_file(), reason="demo not rendered")
def test_shipped_demo_matches_its_description() -> None:
    doc = json.loads((DEMO_DIR / "demo.json").read_text())
    assert doc["scale"] == "A minor pentatonic"
    assert doc["bpm"] == 90
    notes = [guitarset.TruthNote.from_json(n) for n in doc["notes"]]
    assert sum(not n.in_scale for n in notes) == 2
    assert sum(abs(n.cents) >= 20 for n in notes) == 2
    assert all(abs(n.cents) <= 1 for n in notes if n.in_scale and abs(n.cents) < 20)
    wav = DEMO_DIR / "demo.wav"
    assert wav.stat().st_size < 1_000_000
    sr, x = read_wav(wav)
    assert sr == 48_000
    assert x.ndim == 1
    assert len(x) / sr > notes[-1].onset_s + notes[-1].duration_s
