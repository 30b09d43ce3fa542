"""Render every example screen to PNG; ``--update`` refreshes the reference images.

    python -m tests.render_screens            # write out/screens/*.png and out/screens.png
    python -m tests.render_screens --update   # also rewrite tests/screens/*.png

``tests/test_display.py`` compares ``render()`` of each example against
``tests/screens/<name>.png`` pixel for pixel. After a deliberate change to a screen, run
with ``--update``, look at the 4× contact sheet ``out/screens.png``, and commit the new
references with the change.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageDraw

from device.screens import NO_BUTTONS
from display.render import HEIGHT, WIDTH, font, render
from display.state import (
    HomeScreen,
    PairingScreen,
    PracticeScreen,
    ScreenState,
    SettingsScreen,
    StatusScreen,
    StoppedScreen,
    SummaryScreen,
    TempoScreen,
    TunerScreen,
)
from sync.qr import qr_matrix
from tests.conftest import REPO

REFERENCE_DIR = Path(__file__).with_name("screens")

LONG_TIP = (
    "Your bends land a little flat: push the string until the note matches the fretted "
    "pitch two frets up, then hold it there for a beat."
)

HOME = HomeScreen(
    scale_name="A minor pentatonic",
    bpm=90,
    metrics=("pitch", "scale", "timing"),
    sync_pending=0,
    sync_rejected=0,
    hub_configured=True,
)

PRACTICE = PracticeScreen(
    elapsed_s=83.4,
    pitch=0.87,
    scale=0.64,
    timing=0.31,
    note_name="A2",
    cents=-12,
    in_scale=True,
    tip="Relax the fretting hand.",
    bpm=90,
    scale_name="Am pent",
)

EXAMPLES: dict[str, ScreenState] = {
    "home": HOME,
    "home_long_scale_free_tempo": HomeScreen(
        scale_name="Bb harmonic minor with a very long name",
        bpm=None,
        metrics=("pitch", "scale"),
        sync_pending=3,
        sync_rejected=1,
        hub_configured=True,
    ),
    "home_no_hub_no_metrics": HomeScreen(
        scale_name="E blues",
        bpm=120,
        metrics=(),
        sync_pending=2,
        sync_rejected=0,
        hub_configured=False,
    ),
    "home_settings_hint": replace(HOME, hint="Hold START: settings"),
    "home_no_buttons": replace(HOME, hint=NO_BUTTONS),
    "home_not_paired": replace(HOME, hub_note="not paired", hint="Pair Hub in settings"),
    "home_re_pair": replace(HOME, hub_note="re-pair"),
    "home_wifi_login": replace(HOME, hub_note="Wi-Fi login"),
    "settings_hub": SettingsScreen(
        rows=(
            ("Strictness", "0.5"),
            ("Sensitivity", "0.7"),
            ("Click", "50 %"),
            ("Beats a bar", "4"),
            ("Tips every", "60 s"),
            ("Hub", "FEEDBACK: pair"),
        ),
        selected=5,
        actions=frozenset({5}),
    ),
    "pairing": PairingScreen(
        "WDJB-MJHT",
        tuple(
            tuple(row) for row in qr_matrix("http://192.168.1.20:8000/device?user_code=WDJB-MJHT")
        ),
    ),
    "pairing_asking": PairingScreen(None),
    "pairing_failed": StatusScreen(
        "Pairing failed",
        ("the code expired", "before it was", "approved: try again", "START: home"),
        level="error",
    ),
    "tempo": TempoScreen(bpm=92),
    "tempo_free": TempoScreen(bpm=None),
    "tempo_tapping": TempoScreen(bpm=92, taps=2),
    "tempo_tapped": TempoScreen(bpm=240, taps=4),
    "settings": SettingsScreen(
        rows=(
            ("Strictness", "0.5"),
            ("Sensitivity", "0.7"),
            ("Click", "50 %"),
            ("Beats a bar", "4"),
            ("Tips every", "60 s"),
        ),
        selected=0,
    ),
    "settings_click": SettingsScreen(
        rows=(
            ("Strictness", "1"),
            ("Sensitivity", "0"),
            ("Click", "100 %"),
            ("Beats a bar", "12"),
            ("Tips every", "300 s"),
        ),
        selected=2,
    ),
    "settings_tips": SettingsScreen(
        rows=(
            ("Strictness", "1"),
            ("Sensitivity", "0"),
            ("Click", "0 %"),
            ("Beats a bar", "12"),
            ("Tips every", "300 s"),
        ),
        selected=4,
    ),
    "practice": PRACTICE,
    "practice_sharp_out_of_scale": PracticeScreen(
        elapsed_s=754,
        pitch=1.0,
        scale=0.5,
        timing=None,
        note_name="F#4",
        cents=3,
        in_scale=False,
        tip=LONG_TIP,
        tip_page=1,
        scale_name="C maj",
    ),
    "practice_no_note_all_disabled": PracticeScreen(
        elapsed_s=0,
        pitch=None,
        scale=None,
        timing=None,
        note_name=None,
        cents=None,
        in_scale=None,
        tip=None,
        scale_name="D dor",
    ),
    "practice_long_tip_last_page": PracticeScreen(
        elapsed_s=3725,
        pitch=0.05,
        scale=0.0,
        timing=0.999,
        note_name="Bb3",
        cents=48,
        in_scale=True,
        tip=LONG_TIP,
        tip_page=5,
        bpm=140,
        scale_name="Bb mixo",
    ),
    "practice_longest_header": PracticeScreen(
        elapsed_s=599,
        pitch=0.72,
        scale=0.9,
        timing=0.66,
        note_name="C#5",
        cents=-50,
        in_scale=True,
        tip="Tips every 300 s",
        bpm=240,
        scale_name="C# maj pent",  # the longest Scale.short_name
    ),
    "practice_beat_one": replace(PRACTICE, beat=1, bpm=100),
    "practice_beat_three": replace(PRACTICE, beat=3, bpm=240, elapsed_s=599),
    "practice_count_in": replace(
        PRACTICE, count_in=3, beat=2, bpm=100, note_name=None, pitch=None, scale=None, timing=None
    ),
    "practice_timing_note": replace(
        PRACTICE, tip="Relax the fretting hand.", tip_page=2, timing_note="You rush by 18 ms"
    ),
    "practice_paused": PracticeScreen(
        elapsed_s=95,
        pitch=0.9,
        scale=0.8,
        timing=0.7,
        note_name="E2",
        cents=0,
        in_scale=True,
        tip="Nice and even.",
        paused=True,
        scale_name="Em pent",
    ),
    "tuner": TunerScreen(note_name="A2", cents=-18, freq_hz=108.9, nearest_string="A2"),
    "tuner_in_tune": TunerScreen(note_name="E4", cents=1, freq_hz=329.8, nearest_string="E4"),
    "tuner_sharp_accidental": TunerScreen(
        note_name="C#3", cents=37, freq_hz=140.6, nearest_string="D3"
    ),
    "tuner_no_note": TunerScreen(note_name=None, cents=None, freq_hz=None, nearest_string=None),
    "summary": SummaryScreen(
        pitch=0.87,
        scale=0.64,
        timing=0.31,
        notes_total=142,
        notes_in_scale=120,
        duration_s=245,
        sync_state="synced",
        tip="Work on even timing: try 70 bpm first.",
    ),
    "summary_timing_note": SummaryScreen(
        pitch=0.87,
        scale=0.64,
        timing=0.91,
        notes_total=142,
        notes_in_scale=120,
        duration_s=245,
        sync_state="synced",
        tip="Even notes.",
        tip_page=1,
        timing_note="You drag by 12 ms",
    ),
    "summary_queued_disabled": SummaryScreen(
        pitch=1.0,
        scale=None,
        timing=None,
        notes_total=1,
        notes_in_scale=1,
        duration_s=12,
        sync_state="queued",
        tip=None,
    ),
    "summary_offline": SummaryScreen(
        pitch=0.5,
        scale=0.75,
        timing=0.25,
        notes_total=12345,
        notes_in_scale=10234,
        duration_s=4000,
        sync_state="offline",
        tip=LONG_TIP,
        tip_page=2,
    ),
    "summary_rejected": SummaryScreen(
        pitch=0.0,
        scale=0.0,
        timing=0.0,
        notes_total=0,
        notes_in_scale=0,
        duration_s=3,
        sync_state="rejected",
        tip=None,
    ),
    "status_no_interface": StatusScreen(
        title="No interface",
        lines=("Plug in your USB audio interface.", "Waiting for it…"),
        level="error",
    ),
    "status_clock": StatusScreen(
        title="Clock not synced",
        lines=("Sessions are kept; their times are fixed when the clock syncs.",),
        level="warning",
    ),
    "status_sync_waiting": StatusScreen(
        title="Sync", lines=("3 sessions waiting to sync",), level="info"
    ),
    "status_rejected": StatusScreen(
        title="1 session rejected by Hub",
        lines=(
            "The Hub refused it (422).",
            "It stays on the device;",
            "see fretcoach sessions",
            "for details and how to",
            "retry it.",
        ),
        level="error",
    ),
    "practice_notice": PracticeScreen(
        elapsed_s=47,
        pitch=0.93,
        scale=1.0,
        timing=0.58,
        note_name="D3",
        cents=-4,
        in_scale=True,
        tip="Thumbs down: not sent",
        scale_name="Am pent",
    ),
    "practice_no_buttons": replace(
        PRACTICE, elapsed_s=5, pitch=None, scale=None, timing=None, cents=2, tip=NO_BUTTONS, bpm=100
    ),
    "ai_mode_choosing": StatusScreen("AI coach", ("Choosing your next", "practice...")),
    "ai_mode_rules": StatusScreen(
        "AI coach suggests",
        ("A minor pentatonic", "Focus: timing", "Even notes, on beat", "START to play it"),
    ),
    "ai_mode_model": StatusScreen(
        "AI coach suggests",
        ("F# harmonic minor", "Focus: scale", "Your weakest area h…", "START to play it"),
    ),
    "stopped": StoppedScreen(),
}


def contact_sheet(
    images: dict[str, Image.Image], *, scale: int = 4, columns: int = 2
) -> Image.Image:
    """All screens scaled up ``scale``× with their names, lit pixels pale blue as on an OLED."""
    label_h, gap = 18, 12
    cell_w, cell_h = WIDTH * scale, HEIGHT * scale + label_h
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (columns * (cell_w + gap) + gap, rows * (cell_h + gap) + gap), "#333")
    draw = ImageDraw.Draw(sheet)
    for i, (name, image) in enumerate(images.items()):
        x = gap + (i % columns) * (cell_w + gap)
        y = gap + (i // columns) * (cell_h + gap)
        draw.text((x, y), name, font=font(16, bold=True), fill="#ddd")
        screen = image.convert("L").resize((cell_w, HEIGHT * scale), Image.Resampling.NEAREST)
        lit = Image.new("RGB", screen.size, "#bfe6ff")
        panel = Image.new("RGB", screen.size, "#000")
        panel.paste(lit, mask=screen)
        sheet.paste(panel, (x, y + label_h))
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.render_screens",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--update", action="store_true", help="rewrite tests/screens/*.png")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "out",
        help="where screens/*.png and screens.png go (default: out/)",
    )
    args = parser.parse_args(argv)

    images = {name: render(state) for name, state in EXAMPLES.items()}
    frames = args.out / "screens"
    frames.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        image.save(frames / f"{name}.png")
    sheet_path = args.out / "screens.png"
    contact_sheet(images).save(sheet_path)
    print(f"wrote {len(images)} screens to {frames}/ and the contact sheet {sheet_path}")

    if args.update:
        REFERENCE_DIR.mkdir(exist_ok=True)
        for stale in set(REFERENCE_DIR.glob("*.png")) - {
            REFERENCE_DIR / f"{name}.png" for name in images
        }:
            stale.unlink()
        for name, image in images.items():
            image.save(REFERENCE_DIR / f"{name}.png")
        print(f"updated {len(images)} reference images in {REFERENCE_DIR}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
