"""Screens against reference images, and the display worker on luma's dummy device.

Reference images: ``tests/screens/<name>.png``, one per example in
``tests/render_screens.py``. After a deliberate change to a screen, regenerate them with
``python -m tests.render_screens --update`` and look at ``out/screens.png`` before
committing. Timing logic runs on a fake clock with ``poll()`` driven by hand: no sleeps.
"""

from __future__ import annotations

import glob
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import get_args

import pytest
from PIL import Image, ImageChops, ImageFont

from device.config import Config, load_config
from display.device import BRIGHT, DIM, DisplaySink, DisplayWorker, FrameRecorder, open_display
from display.render import HEIGHT, WIDTH, fit_text, font, render, text_pages
from display.state import (
    PracticeScreen,
    ScreenState,
    StoppedScreen,
)
from dsp.errors import ConfigError, DisplayError
from tests.render_screens import EXAMPLES, REFERENCE_DIR

REGENERATE = "python -m tests.render_screens --update"


def _practice(**changes: object) -> PracticeScreen:
    values: dict[str, object] = {
        "elapsed_s": 61,
        "pitch": 0.8,
        "scale": 0.7,
        "timing": 0.6,
        "note_name": "A2",
        "cents": 4,
        "in_scale": True,
        "tip": None,
    }
    values.update(changes)
    return PracticeScreen(**values)  # type: ignore[arg-type]


# --- screens -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_screen_matches_reference(name: str, tmp_path: Path) -> None:
    actual = render(EXAMPLES[name])
    reference_path = REFERENCE_DIR / f"{name}.png"
    assert reference_path.exists(), f"no reference image {reference_path}: run {REGENERATE}"
    with Image.open(reference_path) as reference:
        expected = reference.convert("1")
    if ImageChops.difference(actual.convert("L"), expected.convert("L")).getbbox() is not None:
        saved = tmp_path / f"{name}.actual.png"
        actual.save(saved)
        pytest.fail(
            f"screen {name!r} differs from {reference_path}; this run's image is {saved}. "
            f"If the change is deliberate, run {REGENERATE} and look at out/screens.png."
        )


def test_every_reference_image_has_an_example() -> None:
    names = {path.stem for path in REFERENCE_DIR.glob("*.png")}
    assert names == set(EXAMPLES), f"stale or missing reference images: run {REGENERATE}"


def test_examples_cover_every_screen() -> None:
    kinds = {type(state) for state in EXAMPLES.values()}
    assert kinds == set(get_args(ScreenState))  # every screen the display can be given


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_screens_are_128x64_one_bit(name: str) -> None:
    image = render(EXAMPLES[name])
    assert image.mode == "1" and image.size == (128, 64)
    assert image.getbbox() is not None, "a screen must never be blank"


def test_render_is_deterministic() -> None:
    state = EXAMPLES["practice"]
    assert render(state).tobytes() == render(state).tobytes()


def test_render_rejects_what_is_not_a_screen() -> None:
    with pytest.raises(TypeError, match="no screen for str"):
        render("home")  # type: ignore[arg-type]


def test_screens_that_differ_render_differently() -> None:
    base = _practice()
    changed = [
        _practice(note_name="A#2"),
        _practice(cents=-30),
        _practice(pitch=0.2),
        _practice(in_scale=False),
        _practice(elapsed_s=62),
        _practice(paused=True),
        _practice(tip="Breathe."),
    ]
    frames = {render(state).tobytes() for state in [base, *changed]}
    assert len(frames) == len(changed) + 1


def test_tip_pages_change_the_tip_line_and_wrap_around() -> None:
    tip = "one two three four five six seven eight nine ten eleven"
    assert text_pages(tip, 21) == ["one two three four", "five six seven eight", "nine ten eleven"]
    frames = [render(_practice(tip=tip, tip_page=i)).tobytes() for i in range(4)]
    assert len(set(frames[:3])) == 3
    assert frames[3] == frames[0]


# --- nothing is clipped ------------------------------------------------------------------

# Near the coach's limit of 30 words, with long words and one exactly a line long.
LONGEST_TIP = (
    "Everything sounds controlled, but the thirds wobble – practise interval jumps "
    "slowly, metronome-locked and alternate-picked, twice per string, counting-one-and-two, "
    "then accelerate gradually toward performance tempo without flattening bends afterwards."
)


def _screens_at_their_longest() -> dict[str, list[ScreenState]]:
    """Every screen, built as the daemon builds it, with the longest scale names, numbers,
    notices and each line of the longest tip."""
    from coach.recommend import Recommendation
    from device import keymap, screens
    from device.metronome import BeatNow
    from device.session import LiveSnapshot, PracticeSettings
    from dsp.scales import all_scales
    from sync.pairing import PairingState

    scales = all_scales()
    by_name = max(scales, key=lambda s: len(s.name))
    by_short = max(scales, key=lambda s: len(s.short_name))
    settings = PracticeSettings(by_short, 240.0, 0.5, 0.5, ("pitch", "scale", "timing"), 440.0)
    snapshot = LiveSnapshot("s", 599.0, None, None, "C#5", -49.6, False, 1108.7)
    lines = [*text_pages(LONGEST_TIP), "Thumbs down: not sent", "Tips every 300 s"]
    return {
        "home": [
            screens.home(
                replace(settings, scale=by_name),
                sync_pending=999,
                sync_rejected=99,
                hub_configured=True,
                clock_waits=clock_waits,
                turn=turn,
                buttons_missing=buttons_missing,
            )
            for clock_waits in (False, True)
            for turn in range(4)
            for buttons_missing in (False, True)
        ]
        + [
            screens.home(
                settings,
                sync_pending=999,
                sync_rejected=99,
                hub_configured=False,
                clock_waits=True,
                hub_note=note,
                turn=turn,
            )
            for note in ("not paired", "re-pair")
            for turn in range(4)
        ],
        "tempo": [
            screens.tempo(bpm, taps=taps)
            for bpm in (None, keymap.MIN_BPM, 100.4, keymap.MAX_BPM)
            for taps in (0, 1, 2, 4, 99)
        ],
        "settings": [
            screens.settings({s.key: value(s.choices) for s in keymap.SETTINGS}, selected=selected)
            for value in (min, max, lambda choices: choices[len(choices) // 2])
            for selected in range(len(keymap.SETTINGS))
        ]
        + [
            screens.settings(
                {s.key: max(s.choices) for s in keymap.SETTINGS}, selected=selected, hub=hub
            )
            for hub in ("not paired", "paired", "re-pair")
            for selected in range(len(keymap.SETTINGS) + 1)
        ],
        "pairing": [
            screens.pairing(None),
            screens.pairing(
                PairingState(
                    "waiting",
                    user_code="WWWW-WWWW",
                    verification_uri_complete="https://hub.example.com/device?user_code=WWWW-WWWW",
                )
            ),
            screens.pairing(
                PairingState("waiting", user_code="WWWW-WWWW", verification_uri_complete="x" * 200)
            ),
            screens.pairing(PairingState("paired", message="paired as somebody")),
            screens.pairing(
                PairingState(
                    "failed",
                    message="the Hub at https://hub.example.com could not be reached "
                    "(connection refused): check FRETCOACH_HUB_URL and the network",
                )
            ),
        ],
        "tuner": [
            screens.tuner(snapshot),
            screens.tuner(replace(snapshot, note_name="E2", cents=-50.0, freq_hz=80.0)),
        ],
        "practice": [
            screens.practice(
                snapshot,
                settings,
                stream_s=599.9,
                tip=line,
                tip_page=0,
                paused=paused,
                buttons_missing=line is None,
            )
            for line in [*lines, None]
            for paused in (False, True)
        ]
        + [
            replace(
                screens.practice(
                    replace(snapshot, beat=BeatNow(number, 12, 0.0)),
                    settings,
                    stream_s=599.9,
                    tip=None,
                    tip_page=page,
                    paused=False,
                ),
                timing_note="You drag by 999 ms",
            )
            for number in (-12, 0)
            for page in (0, 1)
        ],
        "summary": [
            replace(
                screens.summary(
                    None,
                    duration_s=3599,
                    sync_state=sync,
                    tip=line,
                    tip_page=0,
                    buttons_missing=line is None,
                ),
                notes_total=99999,
                notes_in_scale=99999,
                pitch=1.0,
            )
            for line in [*lines, None]
            for sync in ("queued", "rejected")
        ]
        + [
            replace(
                screens.summary(None, duration_s=3599, sync_state="synced", tip=None, tip_page=0),
                timing_note="You rush by 999 ms",
            )
        ],
        "suggestion": [
            screens.suggestion(
                Recommendation.checked(
                    scale_name=by_name.hub_name,
                    scale_type=by_name.hub_type,
                    focus_area="timing",
                    reasoning="rules",
                    strictness=0.5,
                    sensitivity=0.5,
                )
            )
        ],
        "status": [screens.NO_INTERFACE, screens.THINKING],
        "stopped": [StoppedScreen()],
    }


@pytest.mark.parametrize("name", sorted(_screens_at_their_longest()))
def test_nothing_is_clipped_at_the_longest_names_and_tips(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every line of text is drawn whole: inside the 128 px, in the renderer's own font,
    and never cut with "…"."""
    from PIL import ImageDraw

    drawn: list[tuple[float, str, ImageFont.FreeTypeFont]] = []
    draw_text = ImageDraw.ImageDraw.text

    def record(self, xy, text, *args, font=None, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append((xy[0], text, font))
        return draw_text(self, xy, text, *args, font=font, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", record)
    for state in _screens_at_their_longest()[name]:
        drawn.clear()
        render(state)
        assert drawn
        for x, text, fnt in drawn:
            left, _, right, _ = fnt.getbbox(text)
            assert x + left >= 0 and x + right <= WIDTH, f"{text!r} is cut at the screen's edge"
            assert "…" not in text, f"{text!r} was shortened to fit"


def test_the_longest_tip_pages_whole_words_of_at_most_a_line() -> None:
    from coach.validate import MAX_WORDS, word_count

    assert word_count(LONGEST_TIP) <= MAX_WORDS
    pages = text_pages(LONGEST_TIP)
    assert "counting-one-and-two," in pages  # a word of a whole line is kept whole
    assert " ".join(pages) == LONGEST_TIP  # no word split, none lost
    assert all(len(page) <= 21 for page in pages)


# --- text --------------------------------------------------------------------------------


def test_fit_text_truncates_with_an_ellipsis() -> None:
    small = font(12)
    assert fit_text("E blues", 128, small) == "E blues"
    cut = fit_text("A harmonic minor with a name far too long to fit", 60, small)
    assert cut.endswith("…") and small.getlength(cut) <= 60
    assert cut == "A harmoni…"
    assert fit_text("anything", 3, small) == ""


def test_fit_text_replaces_what_the_font_cannot_draw() -> None:
    assert fit_text("F♯ major", 128) == "F# major"
    assert fit_text("B♭ blues", 128) == "Bb blues"
    assert fit_text("Café “½” 🎸", 128) == "Café “½” ?"


def test_long_text_stays_inside_its_box() -> None:
    # The scale name is cut before the clock on the right: the clock stays whole.
    state = _practice(scale_name="X" * 60, bpm=None, elapsed_s=599)
    clock = render(_practice(scale_name="", bpm=None, elapsed_s=599)).crop((98, 0, 128, 11))
    assert render(state).crop((98, 0, 128, 11)).tobytes() == clock.tobytes()


def test_text_pages_wraps_words() -> None:
    text = "Keep the wrist loose and let the pick glide through the strings."
    pages = text_pages(text, 21)
    assert pages == ["Keep the wrist loose", "and let the pick", "glide through the", "strings."]
    assert all(len(page) <= 21 for page in pages)


def test_text_pages_splits_words_longer_than_a_line_and_ignores_blank_text() -> None:
    assert text_pages("x" * 30, 21) == ["x" * 21, "x" * 9]
    assert text_pages("  \n ", 21) == []
    assert text_pages("a\nb\tc", 21) == ["a b c"]
    with pytest.raises(ValueError, match="at least 1"):
        text_pages("a", 0)


# --- the worker --------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Panel:
    """Stands in for the I2C bus: a luma dummy device that can be 'unplugged'."""

    def __init__(self) -> None:
        self.plugged = True
        self.opened = 0
        self.sink: DisplaySink | None = None

    def open(self) -> DisplaySink:
        if not self.plugged:
            raise DisplayError("I2C device not found: /dev/i2c-1")
        self.opened += 1
        self.sink = open_display("dummy")
        device = self.sink.device
        real_display = device.display

        def display(image: Image.Image) -> None:
            if not self.plugged:
                raise OSError(121, "Remote I/O error")
            real_display(image)

        device.display = display
        return self.sink

    @property
    def image(self) -> Image.Image | None:
        assert self.sink is not None
        return self.sink.device.image


def _worker(panel: Panel, clock: FakeClock, **options: object) -> DisplayWorker:
    return DisplayWorker(panel.open, monotonic=clock, threaded=False, **options)  # type: ignore[arg-type]


def _same(image: Image.Image | None, state: ScreenState) -> bool:
    return image is not None and image.tobytes() == render(state).tobytes()


def test_worker_draws_only_the_latest_state() -> None:
    panel, clock = Panel(), FakeClock()
    worker = _worker(panel, clock)
    for seconds in (1, 2, 3):
        worker.show(_practice(elapsed_s=seconds))
    worker.poll()
    assert _same(panel.image, _practice(elapsed_s=3))
    assert worker.frames_pushed == 1 and worker.states_dropped == 2


def test_worker_caps_the_frame_rate() -> None:
    panel, clock = Panel(), FakeClock()
    worker = _worker(panel, clock, max_fps=8)
    worker.show(_practice(elapsed_s=1))
    worker.poll()
    clock.advance(0.0625)
    worker.show(_practice(elapsed_s=2))
    wait = worker.poll()
    assert worker.frames_pushed == 1, "a second frame within 1/max_fps must wait"
    assert wait == 0.0625
    clock.advance(0.0625)
    assert worker.poll() is not None  # the dim timer is still ahead
    assert worker.frames_pushed == 2 and _same(panel.image, _practice(elapsed_s=2))


def test_worker_skips_frames_that_would_not_change_the_panel() -> None:
    panel, clock = Panel(), FakeClock()
    pushed: list[ScreenState] = []
    worker = _worker(panel, clock, on_frame=lambda state, t: pushed.append(state))
    worker.show(_practice(elapsed_s=61.0))
    worker.poll()
    clock.advance(1)
    worker.show(_practice(elapsed_s=61.0))  # equal state: not even rendered
    worker.poll()
    clock.advance(1)
    worker.show(_practice(elapsed_s=61.7))  # different state, same pixels (still 1:01)
    worker.poll()
    assert worker.frames_pushed == 1 and worker.frames_skipped == 2
    assert pushed == [_practice(elapsed_s=61.0)]


def test_worker_dims_after_inactivity_and_wakes_on_change() -> None:
    panel, clock = Panel(), FakeClock()
    worker = _worker(panel, clock, dim_after_s=30)
    worker.show(_practice())
    assert worker.poll() == pytest.approx(30)
    assert panel.sink is not None and panel.sink.contrast_level == BRIGHT
    clock.advance(29.5)
    worker.show(_practice())  # the same screen again does not count as a change
    worker.poll()
    assert not worker.dimmed
    clock.advance(0.5)
    assert worker.poll() is None  # nothing left to do until a new state arrives
    assert worker.dimmed and panel.sink.contrast_level == DIM
    clock.advance(100)
    worker.show(_practice(cents=-20))
    worker.poll()
    assert not worker.dimmed and panel.sink.contrast_level == BRIGHT
    assert _same(panel.image, _practice(cents=-20))


def test_worker_survives_an_unplugged_display_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    panel, clock = Panel(), FakeClock()
    worker = _worker(panel, clock, retry_s=5)
    worker.show(_practice(elapsed_s=1))
    worker.poll()
    assert panel.opened == 1

    panel.plugged = False
    clock.advance(1)
    with caplog.at_level(logging.WARNING, logger="display.device"):
        worker.show(_practice(elapsed_s=2))
        worker.poll()
        assert worker.sink is None and worker.errors == 1
        for seconds in (3, 4, 5):  # the daemon carries on; retries fail quietly
            clock.advance(5)
            worker.show(_practice(elapsed_s=seconds))
            assert worker.poll() == pytest.approx(5)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "display lost" in warnings[0].getMessage()

    panel.plugged = True
    clock.advance(4)
    worker.poll()
    assert panel.opened == 1, "no retry before retry_s has passed"
    clock.advance(1)
    worker.poll()
    assert panel.opened == 2 and worker.sink is not None
    assert _same(panel.image, _practice(elapsed_s=5)), "the current screen comes back"


def test_worker_starts_without_a_display_and_picks_it_up_later() -> None:
    panel, clock = Panel(), FakeClock()
    panel.plugged = False
    worker = _worker(panel, clock, retry_s=2)
    worker.show(_practice())
    worker.poll()
    assert worker.sink is None and worker.frames_pushed == 0
    panel.plugged = True
    clock.advance(2)
    worker.poll()
    assert _same(panel.image, _practice()) and worker.frames_pushed == 1


def test_close_leaves_the_stopped_screen_on_the_panel() -> None:
    panel, clock = Panel(), FakeClock()
    worker = _worker(panel, clock)
    worker.show(_practice())
    worker.poll()
    worker.close(StoppedScreen())
    assert _same(panel.image, StoppedScreen()), "persist: cleanup must not blank the panel"
    assert worker.sink is None
    worker.close(StoppedScreen())  # closing twice is harmless


def test_worker_thread_draws_and_closes(tmp_path: Path) -> None:
    sinks: list[DisplaySink] = []
    drawn = threading.Event()

    def open_sink() -> DisplaySink:
        sinks.append(open_display("dummy"))
        return sinks[-1]

    worker = DisplayWorker(open_sink, on_frame=lambda state, t: drawn.set())
    worker.show(EXAMPLES["home"])
    assert drawn.wait(5), "the thread should draw within a moment"
    worker.show(EXAMPLES["tuner"])
    worker.close(StoppedScreen())
    assert len(sinks) == 1
    assert _same(sinks[0].device.image, StoppedScreen())


def test_worker_thread_keeps_going_after_a_screen_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = open_display("dummy")
    drawn = threading.Event()
    worker = DisplayWorker(lambda: sink, on_frame=lambda state, t: drawn.set())
    with caplog.at_level(logging.ERROR, logger="display.device"):
        worker.show("not a screen")  # type: ignore[arg-type]
        deadline = time.monotonic() + 5
        while worker.errors == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        worker.show(EXAMPLES["home"])
        assert drawn.wait(5)
    worker.close()
    assert worker.errors == 1 and "drawing a frame failed" in caplog.text
    assert _same(sink.device.image, EXAMPLES["home"])


# --- sinks -------------------------------------------------------------------------------


def test_emulator_writes_png_frames_and_a_gif(tmp_path: Path) -> None:
    assert isinstance(open_display("emulator", emulator_dir=tmp_path).device, FrameRecorder)
    clock = FakeClock()
    sink = DisplaySink(FrameRecorder(tmp_path, monotonic=clock), name="emulator")
    worker = DisplayWorker(lambda: sink, monotonic=clock, threaded=False, dim_after_s=10)
    for name in ("home", "practice", "summary"):
        worker.show(EXAMPLES[name])
        worker.poll()
        clock.advance(12)
        worker.poll()  # dims: the GIF shows the panel dimmed for a while
        clock.advance(3)
    worker.close(StoppedScreen())

    frames = sorted(tmp_path.glob("frame_*.png"))
    assert [f.name for f in frames] == [f"frame_{i:06}.png" for i in range(1, 5)]
    with Image.open(frames[1]) as second:
        assert second.size == (WIDTH, HEIGHT)
        assert second.convert("1").tobytes() == render(EXAMPLES["practice"]).tobytes()
    with Image.open(tmp_path / "last.png") as last:
        assert last.convert("1").tobytes() == render(StoppedScreen()).tobytes()
    with Image.open(tmp_path / "oled.gif") as gif:
        assert gif.size == (WIDTH * 3, HEIGHT * 3)
        # Each of the three screens bright, then dim; then the stopped screen.
        assert gif.n_frames == 7


def test_emulator_starts_afresh_in_a_used_folder(tmp_path: Path) -> None:
    (tmp_path / "frame_000099.png").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("mine")
    open_display("emulator", emulator_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_none_display_accepts_frames() -> None:
    sink = open_display("none")
    sink.display(render(StoppedScreen()))
    sink.contrast(DIM)
    sink.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "lcd"}, "display.kind must be one of oled, emulator, dummy, none, not 'lcd'"),
        ({"kind": "dummy", "rotate": 1}, "display.rotate must be 0 or 2"),
        ({"kind": "oled", "driver": "ssd1309"}, "display.driver must be one of"),
        ({"kind": "emulator"}, "needs a folder"),
    ],
)
def test_open_display_explains_bad_settings(kwargs: dict[str, object], message: str) -> None:
    kind = kwargs.pop("kind")
    with pytest.raises(DisplayError, match=message):
        open_display(kind, **kwargs)  # type: ignore[arg-type]


def test_dummy_rotated_upside_down() -> None:
    sink = open_display("dummy", rotate=2)
    sink.display(render(StoppedScreen()))
    expected = render(StoppedScreen()).rotate(180)
    assert sink.device.image.tobytes() == expected.tobytes()


@pytest.mark.skipif(bool(glob.glob("/dev/i2c-*")), reason="this machine has an I2C bus")
def test_oled_without_i2c_names_the_fix() -> None:
    with pytest.raises(DisplayError, match="I2C") as caught:
        open_display("oled")
    assert "raspi-config" in str(caught.value)


@pytest.mark.hardware
@pytest.mark.skipif(not glob.glob("/dev/i2c-*"), reason="needs the Pi's I2C bus and the OLED")
def test_real_oled_shows_every_screen() -> None:
    worker = DisplayWorker(lambda: open_display("oled"), threaded=False)
    for state in EXAMPLES.values():
        worker.show(state)
        worker.poll()
        assert worker.sink is not None, "the OLED did not answer"
    worker.close(StoppedScreen())


def test_a_new_note_jumps_the_frame_rate_queue() -> None:
    panel, clock = Panel(), FakeClock()
    worker = _worker(panel, clock, max_fps=15)
    worker.show(_practice(note_name="A2", cents=4))
    worker.poll()
    assert worker.frames_pushed == 1
    clock.advance(0.02)
    worker.show(_practice(note_name="A2", cents=9))  # the needle moved: waits its turn
    assert worker.poll() == pytest.approx(1 / 15 - 0.02)
    assert worker.frames_pushed == 1
    worker.show(_practice(note_name="C3", cents=0))  # a new note, 20 ms after a frame
    worker.poll()
    assert worker.frames_pushed == 2, "a new note waits for no frame-rate slot"
    assert _same(panel.image, _practice(note_name="C3", cents=0))


def test_a_note_played_during_a_write_follows_it_at_once() -> None:
    """A write holds the worker for as long as the bus takes (~23 ms at 400 kHz): a note
    played meanwhile goes out as soon as it returns, not a fixed time after it began."""
    clock = FakeClock()
    sink = open_display("dummy")
    device = sink.device
    assert device is not None
    write = device.display

    def bus_write(image: Image.Image) -> None:
        write(image)
        clock.advance(0.023)
        if worker.frames_pushed == 0:
            worker.show(_practice(note_name="C3"))  # as the daemon would, from its thread

    device.display = bus_write  # type: ignore[method-assign]
    worker = DisplayWorker(lambda: sink, monotonic=clock, threaded=False, max_fps=15)
    worker.show(_practice(note_name="A2"))
    assert worker.poll() == 0.0, "the note that came during the write is due now"
    worker.poll()
    assert worker.frames_pushed == 2
    assert _same(device.image, _practice(note_name="C3"))  # type: ignore[attr-defined]


def test_without_buttons_a_tip_still_has_the_tip_line() -> None:
    """The "No buttons" notice fills the tip line only while nothing else is said there."""
    from device import screens
    from device.session import PracticeSettings
    from dsp import parse_scale

    settings = PracticeSettings(parse_scale("E blues"), None, 0.5, 0.5, ("pitch",), 440.0)

    def tip_line(tip: str | None, *, buttons_missing: bool) -> str | None:
        state = screens.practice(
            None,
            settings,
            stream_s=1.0,
            tip=tip,
            tip_page=0,
            paused=False,
            buttons_missing=buttons_missing,
        )
        return state.tip

    assert tip_line(None, buttons_missing=True) == screens.NO_BUTTONS
    assert tip_line("Relax.", buttons_missing=True) == "Relax."
    assert tip_line(None, buttons_missing=False) is None


# -- the OLED over SPI ----------------------------------------------------------------------


class FakeSpiDev:
    """spidev.SpiDev's surface as luma's ``spi()`` uses it: every write is kept, with the
    level the DC pin had then (low = command, high = data)."""

    def __init__(self, gpio: FakeGPIO) -> None:
        self.gpio = gpio
        self.opened: tuple[int, int] | None = None
        self.max_speed_hz = 0
        self.writes: list[tuple[int, list[int]]] = []
        self.closed = False

    def open(self, port: int, device: int) -> None:
        self.opened = (port, device)

    def writebytes(self, data: list[int]) -> None:
        self.writes.append((self.gpio.levels[self.gpio.dc], list(data)))

    def close(self) -> None:
        self.closed = True


class FakeGPIO:
    """RPi.GPIO's surface as luma uses it, recording each pin's level changes."""

    LOW, HIGH, OUT = 0, 1, 0

    def __init__(self, dc: int) -> None:
        self.dc = dc
        self.levels: dict[int, int] = {}
        self.history: list[tuple[int, int]] = []
        self.set_up: list[int] = []

    def setup(self, pin: int, mode: int) -> None:
        self.set_up.append(pin)
        self.levels.setdefault(pin, self.LOW)

    def output(self, pin: int, level: int) -> None:
        self.levels[pin] = level
        self.history.append((pin, level))

    def cleanup(self, pins: list[int]) -> None:
        self.set_up = [p for p in self.set_up if p not in pins]


def test_ssd1306_over_spi_gets_its_init_commands_and_frames() -> None:
    gpio = FakeGPIO(dc=5)
    bus = FakeSpiDev(gpio)
    sink = open_display(
        "oled",
        interface="spi",
        spi_port=0,
        spi_device=1,
        spi_dc_pin=5,
        spi_rst_pin=6,
        spi_speed_hz=4_000_000,
        spi_bus=bus,
        gpio=gpio,
    )
    assert sink.name == "ssd1306 on /dev/spidev0.1 (DC GPIO 5, RST GPIO 6)"
    assert bus.opened == (0, 1)
    assert bus.max_speed_hz == 4_000_000
    assert sorted(gpio.set_up) == [5, 6]
    assert gpio.history[:2] == [(6, FakeGPIO.LOW), (6, FakeGPIO.HIGH)]  # reset pulsed first
    commands = [byte for dc, data in bus.writes if dc == FakeGPIO.LOW for byte in data]
    assert commands[0] == 0xAE  # display off, then the SSD1306 set-up ...
    assert 0xAF in commands  # ... and display on

    bus.writes.clear()
    sink.display(render(StoppedScreen()))
    data = [byte for dc, chunk in bus.writes if dc == FakeGPIO.HIGH for byte in chunk]
    assert len(data) == WIDTH * HEIGHT // 8
    sink.close(persist=False)
    assert bus.closed


@pytest.mark.skipif(bool(glob.glob("/dev/spidev*")), reason="this machine has SPI on")
def test_oled_over_spi_without_spi_names_the_fix() -> None:
    with pytest.raises(DisplayError, match="SPI is off") as caught:
        open_display("oled", interface="spi")
    message = str(caught.value)
    assert "/dev/spidev0.0" in message
    assert "sudo raspi-config nonint do_spi 0" in message
    assert "dtparam=spi=on" in message
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interface": "uart"}, "display.interface must be one of i2c, spi, not 'uart'"),
        ({"interface": "spi", "spi_speed_hz": 3_000_000}, "display.spi_speed_hz must be one of"),
    ],
)
def test_open_display_explains_bad_spi_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DisplayError, match=message):
        open_display("oled", **kwargs)  # type: ignore[arg-type]


def test_config_and_adapter_agree_on_spi_speeds() -> None:
    from device.config import _CHOICES
    from display.device import SPI_SPEEDS_HZ

    assert _CHOICES["display.spi_speed_hz"] == SPI_SPEEDS_HZ


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"display.interface": "usb"}, "`display.interface` must be one of i2c, spi, not 'usb'"),
        ({"display.spi_speed_hz": 7_000_000}, "`display.spi_speed_hz` must be one of 500000,"),
        ({"display.spi_port": 9}, "`display.spi_port` must be between 0 and 6, not 9"),
        ({"display.spi_device": 3}, "`display.spi_device` must be between 0 and 2, not 3"),
        ({"display.spi_dc_pin": 40}, "`display.spi_dc_pin` must be between 0 and 27, not 40"),
        (
            {"display.interface": "spi", "display.spi_rst_pin": 24},
            "`display.spi_dc_pin` and `display.spi_rst_pin` must be different GPIO pins",
        ),
        (
            {"display.interface": "spi", "display.spi_dc_pin": 17},
            r"`display.spi_dc_pin` must not be a button's pin, not 17 \(`buttons.start_pin`\)",
        ),
        (
            {"display.interface": "spi", "display.spi_rst_pin": 10},
            r"`display.spi_rst_pin` must not be one of the SPI bus's own pins \(7, 8, 9, 10, 11\)",
        ),
    ],
)
def test_spi_settings_are_checked(
    overrides: dict[str, object], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        _config_with(tmp_path, overrides)


def _config_with(tmp_path: Path, overrides: dict[str, object]) -> Config:
    """The defaults, an empty config file and ``-o key=value`` for each override."""
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    options = [f"{key}={value!r}".replace("'", '"') for key, value in overrides.items()]
    return load_config(path, options)[0]


def test_spi_settings_load(tmp_path: Path) -> None:
    config = _config_with(
        tmp_path,
        {
            "display.interface": "spi",
            "display.spi_device": 1,
            "display.spi_dc_pin": 5,
            "display.spi_rst_pin": 6,
            "display.spi_speed_hz": 16_000_000,
        },
    )
    shown = config.display
    assert (shown.interface, shown.spi_port, shown.spi_device) == ("spi", 0, 1)
    assert (shown.spi_dc_pin, shown.spi_rst_pin, shown.spi_speed_hz) == (5, 6, 16_000_000)
    # The same pins are fine when the panel is on I2C: they are not used then.
    assert _config_with(tmp_path, {"display.spi_dc_pin": 17}).display.spi_dc_pin == 17


@pytest.mark.skipif(bool(glob.glob("/dev/spidev*")), reason="this machine has SPI on")
def test_the_daemon_opens_the_spi_oled_from_the_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from device.run_command import build_display

    config = _config_with(tmp_path, {"display.interface": "spi", "display.spi_device": 1})
    worker = build_display(config, tmp_path)
    with caplog.at_level(logging.WARNING, logger="display.device"):
        worker.poll()
    assert worker.sink is None
    assert "no display: SPI is off (no /dev/spidev0.1)" in caplog.text
    worker.close()
