"""The metronome: its schedule and sound, the tracker's deafness to click bleed, and timing
judged against the click's phase through the whole daemon.

The end-to-end tests play a guitarist on a simulated interface (:class:`LoopbackInterface`):
its output is the daemon's own mix, the player plays a set time after each click they hear
(the round trip the interface reports, plus how early or late they are), and the click
bleeds back into the input at −20 dB under the guitar, as on a mic'd amp.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from device.audio import EndOfStream
from device.config import load_config
from device.daemon import Daemon
from device.metronome import SessionMetronome
from device.output import OutputMix
from device.session import State
from display.state import PracticeScreen
from dsp import HOP_SIZE, ScoringConfig, TrackerConfig, parse_scale
from dsp.analysis import Analyzer, hops_of
from dsp.errors import InvalidSettingError
from dsp.metronome import (
    CLICK_HZ,
    DUCK_GAIN,
    Click,
    ClickFilter,
    ClickSchedule,
    MetronomeSettings,
    duck_gains,
    render_clicks,
)
from dsp.timing import describe_offset
from sync.store import Store
from tests.conftest import REPO
from tests.devicerun import ScreenWatcher

RATE = 48000
REAL_NOTES = REPO.parent / "shared" / "data" / "real-guitar-notes"
DEMO = REPO / "device" / "demo" / "demo.wav"


# -- the schedule and the sound --------------------------------------------------------


def test_the_schedule_counts_in_then_accents_beat_one_of_each_bar() -> None:
    schedule = ClickSchedule(RATE, 120.0, 1000, beats_per_bar=3, subdivision=2, count_in=3)
    assert schedule.interval == 12000
    assert schedule.downbeat == 1000 + 3 * 24000
    kinds = [schedule.kind(k) for k in range(12)]
    # count-in: accent, beat, beat (subdivisions between), then bar 1 from its own accent
    assert kinds[0::2] == [
        Click.ACCENT,
        Click.BEAT,
        Click.BEAT,
        Click.ACCENT,
        Click.BEAT,
        Click.BEAT,
    ]
    assert set(kinds[1::2]) == {Click.SUB}
    assert schedule.beat_at(999) is None
    assert schedule.beat_at(1000) == (-3, 1, 0.0)
    number, of_bar, since = schedule.beat_at(schedule.downbeat + 6000)  # type: ignore[misc]
    assert (number, of_bar, since) == (0, 1, pytest.approx(0.125))
    with pytest.raises(InvalidSettingError, match="beats per bar"):
        ClickSchedule(RATE, 120.0, 0, beats_per_bar=13)


def test_clicks_render_the_same_in_hops_as_in_one_piece() -> None:
    schedule = ClickSchedule(RATE, 200.0, 300, subdivision=4)
    whole = render_clicks(schedule, 0, 100 * HOP_SIZE, 0.7)
    pieces = np.concatenate(
        [render_clicks(schedule, i * HOP_SIZE, HOP_SIZE, 0.7) for i in range(100)]
    )
    assert np.array_equal(whole, pieces)
    assert whole[:300].max() == 0.0 and abs(whole[300:700]).max() > 0.5
    assert not render_clicks(schedule, 0, 4096, 0.0).any()


def test_speech_ducks_under_every_click_and_only_there() -> None:
    schedule = ClickSchedule(RATE, 100.0, 4800)
    gains = duck_gains(schedule, 0, 3 * RATE)
    for k in range(5):
        at = schedule.position(k)
        assert gains[at : at + 200].max() <= DUCK_GAIN + 1e-6
        assert gains[at + 12000] == 1.0  # between clicks: full level
    assert gains[:3000].min() == 1.0


def test_the_notch_removes_the_click_and_leaves_the_guitar() -> None:
    t = np.arange(RATE) / RATE

    def level(hz: float) -> float:
        notch = ClickFilter(RATE)
        tone = np.sin(2 * np.pi * hz * t).astype(np.float32)
        out = np.concatenate([notch(hop) for hop, _ in hops_of(tone)])
        steady = out[RATE // 2 : RATE - HOP_SIZE]  # settled, before the padded end
        return float(np.sqrt(np.mean(steady**2)) / np.sqrt(0.5))

    assert level(CLICK_HZ) < 0.01  # −40 dB and more
    for hz in (82.4, 196.0, 440.0, 1318.5):  # the guitar's fundamentals, E2 to E6
        assert level(hz) > 0.93  # at most −0.6 dB (E6, the nearest)


def test_offsets_read_as_a_player_acts_on_them() -> None:
    assert describe_offset(-18.4) == "you rush by 18 ms"
    assert describe_offset(12.0) == "you drag by 12 ms"
    assert describe_offset(3.0) == "on the beat"


# -- the tracker never hears the click ---------------------------------------------------


def _bleed(n: int, *, bpm: float, subdivision: int, start: int, peak: float) -> np.ndarray:
    """Click bleed as a mic'd amp returns it: the clicks plus a 20 ms room echo, scaled to
    ``peak``."""
    schedule = ClickSchedule(RATE, bpm, start, subdivision=subdivision)
    clicks = render_clicks(schedule, 0, n, 1.0).astype(np.float64)
    echo = round(0.02 * RATE)
    clicks[echo:] += 0.3 * clicks[:-echo]
    return (clicks / np.abs(clicks).max() * peak).astype(np.float32)


def _notes(samples: np.ndarray, *, notch: bool) -> list[tuple[float, int]]:
    analyzer = Analyzer(
        TrackerConfig(sample_rate=RATE), ScoringConfig(parse_scale("A minor pentatonic"))
    )
    flt = ClickFilter(RATE) if notch else None
    for hop, valid in hops_of(samples):
        analyzer.feed(flt(hop) if flt else hop, valid=valid)
    return [(n.onset_s, n.midi) for n in analyzer.finish().notes]


def _guitar_clips() -> list[np.ndarray]:
    """The demo performance and real recorded notes (each after a second of its own
    noise floor), at 48 kHz."""
    clips = [soundfile.read(DEMO, dtype="float32")[0]]
    for path in sorted(REAL_NOTES.glob("*.wav"))[::12]:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
        mono = data.mean(axis=1)
        if rate != RATE:
            where = np.arange(round(len(mono) * RATE / rate)) * (rate / RATE)
            mono = np.interp(where, np.arange(len(mono)), mono).astype(np.float32)
        noise = np.random.default_rng(1).normal(0, 3e-4, RATE).astype(np.float32)
        clips.append(np.concatenate([noise, mono[: 3 * RATE]]))
    return clips


def test_click_bleed_at_minus_20_db_adds_no_note_and_loses_none() -> None:
    if not REAL_NOTES.is_dir():
        pytest.skip(f"{REAL_NOTES} absent: the real notes this test plays are not here")
    clips = _guitar_clips()
    assert len(clips) >= 8
    extras_unfiltered = 0
    for clip in clips:
        clean = _notes(clip, notch=True)
        peak = float(np.abs(clip).max()) * 10 ** (-20 / 20)
        for subdivision in (1, 2, 4):
            for start in (0, 5000):  # on the notes' grid, and off it
                bleed = _bleed(len(clip), bpm=90.0, subdivision=subdivision, start=start, peak=peak)
                heard = _notes(clip + bleed, notch=True)
                assert [m for _, m in heard] == [m for _, m in clean], (subdivision, start)
                for (a, _), (b, _) in zip(heard, clean, strict=True):
                    assert abs(a - b) <= 0.006
                extras_unfiltered += max(0, len(_notes(clip + bleed, notch=False)) - len(clean))
    # Without the notch the same bleed does make notes: the test can tell the difference.
    assert extras_unfiltered > 0


# -- timing against the click, through the daemon ----------------------------------------


class LoopbackInterface:
    """An interface open both ways, with a guitarist and a mic'd amp on the other side.

    Its output is the daemon's :class:`OutputMix`; the player plays a note ``offset_s``
    after each beat they hear (and one stray note in the count-in), which reaches the input
    ``round_trip_s`` after the click left the mix; the clicks bleed back at −20 dB.
    """

    def __init__(
        self,
        *,
        offset_s: float,
        seconds: float,
        round_trip_s: float = 0.012,
        realtime: bool = False,
    ) -> None:
        self.sample_rate = RATE
        self.description = "loopback test interface, with output"
        self.realtime = realtime  # False: lossless, the capture waits for the DSP
        self.mix = OutputMix(RATE)
        self.round_trip_s = round_trip_s
        self.offset = round(offset_s * RATE)
        self.latency = round(round_trip_s * RATE)
        self.limit = round(seconds * RATE)
        self.position = 0
        self.played: list[int] = []  # where each note starts, in input samples
        self.schedule: ClickSchedule | None = None  # the last clicks the mix played
        self._output = np.zeros(0, dtype=np.float32)
        t = np.arange(round(0.4 * RATE)) / RATE
        self._notes = []
        for midi in (57, 60, 62, 64, 67):
            phase = 2 * np.pi * 440.0 * 2 ** ((midi - 69) / 12) * t
            tone = np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)
            self._notes.append((0.25 * tone * np.exp(-t * 4.0)).astype(np.float32))

    def open(self) -> None:
        self.mix.active = True

    def close(self) -> None:
        self.mix.active = False

    def read_hop(self) -> np.ndarray:
        if self.position >= self.limit:
            raise EndOfStream
        first = self.position
        self._output = np.concatenate([self._output, self.mix.render(first, HOP_SIZE)])
        hop = np.zeros(HOP_SIZE, dtype=np.float32)
        schedule = self.mix.schedule
        if schedule is not None:
            self.schedule = schedule
            length = len(self._notes[0])
            for at, kind in schedule.clicks_between(
                first - self.latency - self.offset - length,
                first + HOP_SIZE - self.latency - self.offset,
            ):
                beat = schedule.beat_at(at)
                assert beat is not None
                stray = beat[0] == -2  # noodling in the count-in
                if kind is Click.SUB or (beat[0] < 0 and not stray):
                    continue
                start = at + self.latency + self.offset
                if start not in self.played:
                    self.played.append(start)
                note = self._notes[len([p for p in self.played if p < start]) % 5]
                lo, hi = max(start, first), min(start + length, first + HOP_SIZE)
                if lo < hi:
                    hop[lo - first : hi - first] += note[lo - start : hi - start]
        # The click, back through the room, under the guitar.
        back = first - self.latency
        if back >= 0:
            hop += 0.025 * self._output[back : back + HOP_SIZE]
        self.position += HOP_SIZE
        if self.realtime:
            time.sleep(HOP_SIZE / RATE)
        return hop


@pytest.mark.parametrize("offset_ms", [15.0, -20.0], ids=["dragging", "rushing"])
def test_timing_is_judged_against_the_click_and_the_offset_reaches_the_player(
    offset_ms: float, tmp_path: Path
) -> None:
    config, _ = load_config(
        None, ["practice.bpm=100", "metronome.volume=0.5", "practice.scale='A minor pentatonic'"]
    )
    source = LoopbackInterface(offset_s=offset_ms / 1000.0, seconds=14.0)
    with Store.open(tmp_path) as store:
        daemon = Daemon(config, source=source, store=store)
        results = daemon.run()
        assert daemon.state is State.SUMMARY
        summary = daemon.screen()
        record = store.session(results[0].session_id)
    result = results[0]
    assert result.clicks_heard and result.scores is not None
    scores = result.scores
    # Every note played after the count-in is scored, the stray one in it is not, and no
    # click became a note.
    scored = len(source.played) - 1
    assert scored >= 15
    assert scores.counts.total_notes in (scored, scored - 1)  # the last may be cut off
    assert scores.mean_offset_ms == pytest.approx(offset_ms, abs=5.0)
    assert scores.timing_stability is not None and scores.timing_stability > 0.5
    word = "drag" if offset_ms > 0 else "rush"
    assert summary.timing_note == f"You {word} by {abs(round(scores.mean_offset_ms))} ms"
    # Kept with the session and sent to the Hub.
    assert record is not None and record.mean_offset_ms == scores.mean_offset_ms
    assert record.hub_payload()["mean_offset_ms"] == scores.mean_offset_ms


def test_a_file_sees_the_beat_but_is_never_judged_against_its_phase(tmp_path: Path) -> None:
    """A recording was never played to these clicks: no count-in, no offset on screen."""
    from device.audio import WavSource

    config, _ = load_config(None, ["practice.bpm=90"])
    with Store.open(tmp_path) as store:
        daemon = Daemon(config, source=WavSource(DEMO, realtime=False), store=store)
        results = daemon.run()
        summary = daemon.screen()
        record = store.session(results[0].session_id)
    assert not results[0].clicks_heard
    assert summary.timing_note is None
    assert record is not None and record.mean_offset_ms is None
    assert "mean_offset_ms" not in record.hub_payload()
    assert results[0].scores is not None and results[0].scores.counts.total_notes >= 18


def test_the_beat_led_flashes_on_every_beat_and_longer_on_one(tmp_path: Path) -> None:
    from gpiozero import LED
    from gpiozero.pins.mock import MockFactory

    from device.metronome import BeatLed

    factory = MockFactory()
    led = BeatLed(LED(5, pin_factory=factory))
    config, _ = load_config(None, ["practice.bpm=120", "metronome.beats_per_bar=3"])
    source = LoopbackInterface(offset_s=0.0, seconds=6.0)
    with Store.open(tmp_path) as store:
        Daemon(config, source=source, store=store, beat_led=led).run()
    # Every beat from the count-in on, a third of them accented; off once it stopped.
    schedule = source.schedule
    assert schedule is not None and schedule.count_in == 3
    beats = range(schedule.start, source.limit, round(schedule.beat_samples))
    assert len(beats) >= 9
    assert abs(led.flashes - len(beats)) <= 1
    assert led.accents == -(-led.flashes // 3)
    pin = factory.pin(5)
    assert any(state.state for state in pin.states)
    assert pin.state == 0


def test_metronome_settings_are_checked_with_the_fix_in_the_message() -> None:
    from dsp.errors import ConfigError

    with pytest.raises(ConfigError, match=r"`metronome\.subdivision` must be one of quarters"):
        load_config(None, ["metronome.subdivision='sixteenths'"])
    with pytest.raises(ConfigError, match=r"`metronome\.led_pin` must not be a button.s pin"):
        load_config(None, ["metronome.led_pin=17"])
    with pytest.raises(ConfigError, match=r"`metronome\.volume` must be between 0 and 1"):
        load_config(None, ["metronome.volume=2"])
    config, _ = load_config(None, ["metronome.subdivision='16ths'", "metronome.latency_ms=8"])
    from device.config import metronome_settings

    settings = metronome_settings(config)
    assert (settings.subdivision, settings.latency_s) == (4, 0.008)


def test_the_screen_counts_in_then_flashes_the_beat(tmp_path: Path) -> None:
    config, _ = load_config(None, ["practice.bpm=120"])
    source = LoopbackInterface(offset_s=0.0, seconds=3.5, realtime=True)
    watcher = ScreenWatcher()
    with Store.open(tmp_path) as store:
        Daemon(config, source=source, store=store, display=watcher).run()
    practice = [s for s in watcher.shown if isinstance(s, PracticeScreen)]
    counted = [s.count_in for s in practice if s.count_in]
    assert counted == sorted(counted, reverse=True) and set(counted) >= {4, 3, 2, 1}
    assert any(s.count_in and s.beat == 0 for s in practice)  # the flash goes off in it too
    after = practice[next(i for i, s in enumerate(practice) if s.count_in == 1) :]
    assert {1, 2} <= {s.beat for s in after if not s.count_in}  # beat 1 and the others
    assert any(s.beat == 0 for s in after)  # and dark between beats


def test_the_demo_is_judged_against_the_click_it_was_played_to(tmp_path: Path) -> None:
    """The bundled demo was rendered to a 90 bpm click with its first beat 0.3 s in, the
    notes up to 12 ms off it: ``run`` judges it against that click and reports a small
    offset; at another tempo there is no click it was played to, and no offset."""
    from tests.devicerun import run_device

    quick = ["--source", "demo", "--fast", "--display", "none", "--buttons", "none"]
    [own], _ = run_device(quick, state_dir=tmp_path / "own")
    assert own["bpm"] == 90 and own["mean_offset_ms"] is not None
    assert abs(own["mean_offset_ms"]) < 15  # the wobble, and the samples' own lead-in
    assert own["timing_stability"] >= 0.9
    [other], _ = run_device([*quick, "--bpm", "100"], state_dir=tmp_path / "other")
    assert other.get("mean_offset_ms") is None


def test_a_recordings_click_is_known_only_from_its_first_sample(tmp_path: Path) -> None:
    """Started later in the demo (a button pressed while it plays), or at another tempo,
    the session was not played to the demo's click: no offset is claimed."""
    from device.audio import WavSource

    config, _ = load_config(None, ["practice.bpm=90"])
    with Store.open(tmp_path) as store:
        daemon = Daemon(
            config, source=WavSource(DEMO, realtime=False), store=store, click_phase_s=0.3
        )
        from_start = daemon.run()[0]
    assert from_start.clicks_heard and from_start.scores is not None
    assert from_start.scores.mean_offset_ms is not None
    assert abs(from_start.scores.mean_offset_ms) < 15

    metronome = SessionMetronome(
        90.0,
        MetronomeSettings(),
        RATE,
        mix=None,
        round_trip_s=0.0,
        position=lambda: 0,
        phase_s=0.3,
    )
    hop = np.zeros(HOP_SIZE, dtype=np.float32)
    _, origin = metronome.admit(10 * HOP_SIZE, hop, 0.0)  # not the recording's start
    assert origin is None and not metronome.phase_known
