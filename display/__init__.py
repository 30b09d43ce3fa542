"""OLED screens: pure ``render(state) -> PIL.Image`` functions and one thin luma adapter.

* ``display.state`` — one frozen dataclass per screen (home, tempo, settings, practice,
  tuner, summary, status, stopped); the daemon builds them, nothing else crosses into
  this package.
* ``display.render`` — ``render(state)`` draws a 128×64 mode "1" image with the bundled
  Terminus bitmap font; ``text_pages`` word-wraps a coach tip into screen lines.
* ``display.device`` — ``open_display(kind)`` (real OLED over I2C, PNG/GIF recorder,
  luma dummy, none) and ``DisplayWorker``, the thread that feeds it.

Importing this package needs Pillow only; luma's I2C code loads when an OLED is opened.
Reference images of every screen live in ``tests/screens``; regenerate them with
``python -m tests.render_screens --update``.
"""

from display.device import DisplaySink, DisplayWorker, open_display
from display.render import render, text_pages
from display.state import (
    HomeScreen,
    PracticeScreen,
    ScreenState,
    SettingsScreen,
    StatusScreen,
    StoppedScreen,
    SummaryScreen,
    TempoScreen,
    TunerScreen,
)
from dsp.errors import DisplayError

__all__ = [
    "DisplayError",
    "DisplaySink",
    "DisplayWorker",
    "HomeScreen",
    "PracticeScreen",
    "ScreenState",
    "SettingsScreen",
    "StatusScreen",
    "StoppedScreen",
    "SummaryScreen",
    "TempoScreen",
    "TunerScreen",
    "open_display",
    "render",
    "text_pages",
]
