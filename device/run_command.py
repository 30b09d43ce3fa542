"""``fretcoach run``, ``fretcoach devices`` and ``fretcoach status``: wiring, in one place.

:func:`build_daemon` is where every object is made from the configuration and passed in;
nothing below it reaches for globals.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from coach.prompts import notes_text
from coach.tracing import FEEDBACK_KIND, TRACE_KIND
from device.audio import PyAudioSource, ToneSource, WavSource, list_input_devices
from device.bundled import demo_paths
from device.buttons import Buttons, open_buttons
from device.config import (
    Config,
    describe,
    device_settings_path,
    load_config,
    lowest_note_midi,
    speech_settings,
)
from device.daemon import Daemon, SessionResult
from device.local_hub import LocalHub
from device.metronome import BeatLed
from device.parts import PairingOffer
from dsp.errors import ButtonsError, HubNotPairedError
from dsp.notes import note_name
from sync.client import HubClient, HubSettings, redact_url
from sync.pairing import load_pairing
from sync.store import Store, default_data_dir
from sync.worker import SyncWorker

log = logging.getLogger(__name__)


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="run the practice device (the daemon)",
        description="Listen, score, show, store and sync: the device. With --source "
        "FILE.wav or demo a recorded performance goes through the whole daemon exactly as "
        "from the interface; with no buttons the session starts at once and the daemon "
        "exits when the file ends.",
    )
    _add_config_options(run)
    run.add_argument(
        "--source",
        default="device",
        help="device (the USB interface), demo (the bundled performance), tone (a generated "
        "melody) or a WAV file (default: device)",
    )
    run.add_argument(
        "--display", choices=["oled", "emulator", "none"], help="override display.kind"
    )
    run.add_argument(
        "--buttons", choices=["gpio", "keyboard", "none"], help="override buttons.kind"
    )
    run.add_argument("--scale", help='the first session\'s scale, e.g. "E blues"')
    run.add_argument("--bpm", type=float, help="the first session's metronome tempo (0 = free)")
    run.add_argument(
        "--fast", action="store_true", help="read a file source as fast as possible, not paced"
    )
    run.add_argument(
        "--data-dir", type=Path, help="state directory (default: FRETCOACH_DATA_DIR or the XDG dir)"
    )
    run.add_argument(
        "--speech",
        choices=("off", "auto", "openai", "espeak"),
        help="override coach.speech: speak the tips (auto: OpenAI TTS with a key, else espeak-ng)",
    )
    run.add_argument("--json", action="store_true", help="print the finished sessions as JSON")
    run.add_argument(
        "--local-hub",
        action="store_true",
        help="start a reference Hub on 127.0.0.1 for this run and sync to it (the demo)",
    )
    run.set_defaults(handler=cmd_run)

    devices = commands.add_parser(
        "devices",
        help="list audio inputs with their channels and sample rates",
        description="List the audio inputs PortAudio sees, with their index, input channels "
        "and the sample rates they accept. Put the index or a part of the name in "
        "audio.device (e.g. `fretcoach run -o audio.device='\"USB\"'`).",
    )
    devices.add_argument("--json", action="store_true", help="print a JSON list")
    devices.set_defaults(handler=cmd_devices)

    status = commands.add_parser(
        "status",
        help="configuration, store and sync state at a glance",
        description="Print the configuration in effect, the session store's size and how "
        "many sessions and coach traces wait for the Hub or Opik or were rejected, and the "
        "button backend: for GPIO buttons, the gpiozero pin factory `run` would use, or why "
        "there is none. Reads the store and claims no pin; safe while the daemon runs.",
    )
    _add_config_options(status)
    status.add_argument("--data-dir", type=Path, help="state directory")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=cmd_status)


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help="a TOML config file (default: /etc/fretcoach/config.toml, then "
        "~/.config/fretcoach/config.toml)",
    )
    parser.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting, e.g. -o practice.bpm=90 (repeatable)",
    )


def effective_config(args: argparse.Namespace) -> Config:
    overrides = list(args.option)
    if getattr(args, "scale", None):
        overrides.append(f"practice.scale={json.dumps(args.scale)}")
    if getattr(args, "bpm", None) is not None:
        overrides.append(f"practice.bpm={args.bpm}")
    if getattr(args, "display", None):
        overrides.append(f"display.kind={json.dumps(args.display)}")
    if getattr(args, "buttons", None):
        overrides.append(f"buttons.kind={json.dumps(args.buttons)}")
    if getattr(args, "speech", None):
        overrides.append(f"coach.speech={json.dumps(args.speech)}")
    config, _ = load_config(args.config, overrides)
    # What was set on the device's settings screen, kept in the state directory, sits
    # between the file and -o; the state directory may itself come from the file or -o.
    saved = device_settings_path(_data_dir(args, config))
    config, _ = load_config(args.config, overrides, device_settings=saved)
    user = os.environ.get("FRETCOACH_USER_ID", "").strip()
    if user:
        config = replace(config, sync=replace(config.sync, user_id=user))
    return config


def _data_dir(args: argparse.Namespace, config: Config) -> Path:
    if getattr(args, "data_dir", None):
        return Path(args.data_dir)
    if config.sync.data_dir:
        return Path(config.sync.data_dir)
    return default_data_dir()


def build_source(spec: str, config: Config, *, fast: bool) -> Any:
    if spec == "device":
        return PyAudioSource(
            device=config.audio.device,
            channel=config.audio.channel,
            sample_rate=config.audio.sample_rate,
            stall_timeout_s=config.audio.stall_timeout_s,
            output=config.audio.output,
            latency_s=config.metronome.latency_ms / 1000.0,
        )
    if spec == "tone":
        return ToneSource(sample_rate=config.audio.sample_rate, seconds=None, realtime=not fast)
    path = demo_paths()[0] if spec == "demo" else Path(spec)
    return WavSource(path, realtime=not fast)


def build_display(config: Config, data_dir: Path) -> Any | None:
    if config.display.kind == "none":
        return None
    from display.device import DisplayWorker, open_display

    shown = config.display
    emulator_dir = Path(shown.emulator_dir) if shown.emulator_dir else data_dir / "screens"

    def factory() -> Any:
        return open_display(
            shown.kind,
            driver=shown.driver,
            interface=shown.interface,
            i2c_port=shown.i2c_port,
            i2c_address=shown.i2c_address,
            spi_port=shown.spi_port,
            spi_device=shown.spi_device,
            spi_dc_pin=shown.spi_dc_pin,
            spi_rst_pin=shown.spi_rst_pin,
            spi_speed_hz=shown.spi_speed_hz,
            rotate=shown.rotate,
            emulator_dir=emulator_dir,
        )

    return DisplayWorker(factory, max_fps=shown.max_fps, dim_after_s=shown.dim_after_s)


def build_coach(config: Config, store: Store) -> Any | None:
    if not config.coach.enabled:
        return None
    from coach import LiveCoach

    return LiveCoach.from_env(
        store=store,
        first_tip_s=config.coach.first_tip_s,
        interval_s=config.coach.interval_s,
        min_notes=config.coach.min_notes,
    ).start()


def build_speaker(config: Config, coach: Any | None, source: Any) -> Any | None:
    """The tip speaker when ``coach.speech`` is on; it traces with the coach's tracer.
    With the interface's output open (``audio.output``) speech is mixed into it, under
    the metronome's clicks."""
    if config.coach.speech == "off" or coach is None:
        return None
    from coach.providers import CoachSettings
    from device.speaker import Speaker

    return Speaker(
        speech_settings(config),
        coach_settings=CoachSettings.from_env(),
        tracer=coach.generator.tracer,
        mix=getattr(source, "mix", None),
    ).start()


def demo_click_phase(args: argparse.Namespace, config: Config) -> float | None:
    """The bundled demo was played to a click whose first beat is ``beat_origin_s`` into
    it: at its own tempo, its timing is judged against that click, as if heard."""
    if args.source != "demo":
        return None
    demo = demo_paths()[1]
    origin = demo.get("beat_origin_s")
    if origin is None or config.practice.bpm != demo.get("bpm"):
        return None
    return float(origin)


def hub_and_pairing(data_dir: Path) -> tuple[HubSettings | None, PairingOffer | None]:
    """The Hub to sync with, and whether the settings screen may (re-)pair with it.

    A Hub address without a token is no reason to stop the practice device: it plays,
    keeps its sessions, and offers pairing on its settings screen. A static
    ``FRETCOACH_HUB_TOKEN`` is the operator's choice, so no pairing is offered over it.
    """
    try:
        hub = HubSettings.from_env(data_dir=data_dir)
    except HubNotPairedError as err:
        return None, PairingOffer(err.url, verify=os.environ.get("FRETCOACH_HUB_CA_BUNDLE") or True)
    if hub is None or os.environ.get("FRETCOACH_HUB_TOKEN", "").strip():
        return hub, None
    return hub, PairingOffer(hub.url, verify=hub.ca_bundle or True)


def build_beat_led(config: Config) -> BeatLed | None:
    """The LED on ``metronome.led_pin`` (GPIO buttons' pin factory), or None; an LED that
    cannot be opened is logged and left out, never fatal."""
    pin = config.metronome.led_pin
    if pin < 0 or not config.metronome.enabled:
        return None
    try:
        from gpiozero import LED
        from gpiozero.exc import GPIOZeroError

        return BeatLed(LED(pin))
    except (ImportError, GPIOZeroError, OSError, RuntimeError) as err:
        log.warning("metronome: no beat LED on GPIO %d (%s); the beat is still on screen", pin, err)
        return None


@dataclass(frozen=True, slots=True)
class ButtonsSetup:
    """The buttons the daemon gets, and why there are none when buttons were configured."""

    buttons: Buttons | None
    problem: str | None = None  # the journal's reason; the screens then say "No buttons"


def build_buttons(config: Config) -> ButtonsSetup:
    """The configured buttons; none for ``none``, and for GPIO buttons that cannot be
    opened (no backend, a pin in use, broken wiring): the practice device never stops for
    its buttons. Then each session starts at once, the journal says why and what to fix,
    and the screens say there are no buttons.
    """
    if config.buttons.kind == "none":
        return ButtonsSetup(None)
    b = config.buttons
    try:
        return ButtonsSetup(
            open_buttons(
                b.kind,
                pins={
                    "start": b.start_pin,
                    "select": b.select_pin,
                    "mode": b.mode_pin,
                    "feedback": b.feedback_pin,
                },
                debounce_s=b.debounce_ms / 1000.0,
                long_press_s=b.long_press_ms / 1000.0,
            )
        )
    except ButtonsError as err:
        if b.kind != "gpio":
            raise
        log.warning(
            "buttons: %s — running without buttons: the session starts at once and ends "
            "when the daemon stops",
            err,
        )
        return ButtonsSetup(None, problem=str(err))


def cmd_run(args: argparse.Namespace) -> int:
    config = effective_config(args)
    data_dir = _data_dir(args, config)
    if args.source == "demo":
        # The demo is played in its own scale and to its own metronome, as `analyze --demo`
        # hears it, unless the command line says otherwise.
        demo = demo_paths()[1]
        practice = config.practice
        if demo.get("scale") and not (
            args.scale or any("practice.scale" in o for o in args.option)
        ):
            practice = replace(practice, scale=demo["scale"])
        if demo.get("bpm") and not (
            args.bpm is not None or any("practice.bpm" in o for o in args.option)
        ):
            practice = replace(practice, bpm=float(demo["bpm"]))
        config = replace(config, practice=practice)
    source = build_source(args.source, config, fast=args.fast)
    with contextlib.ExitStack() as stack:
        local_hub = None
        if args.local_hub:
            local_hub = stack.enter_context(
                LocalHub(data_dir / "local-hub", user=config.sync.user_id)
            )
            hub = HubSettings(url=local_hub.url, token=local_hub.token)
        else:
            hub, pairing = hub_and_pairing(data_dir)
            if hub is None and pairing is not None:
                log.warning(
                    "FRETCOACH_HUB_URL is set but this device is not paired with that Hub: "
                    "run `fretcoach pair`, or pair on the settings screen; meanwhile "
                    "sessions are kept"
                )
        store = stack.enter_context(Store.open(data_dir))
        # A session waits up to 10 min for NTP before it is sent with an unsure start time;
        # the demo's own Hub on loopback takes it at once, so the summary screen can say so.
        clock_hold_s = 0.0 if local_hub else 600.0
        sync_worker = (
            SyncWorker(store, HubClient(hub), clock_hold_s=clock_hold_s)
            if hub is not None
            else None
        )
        display = build_display(config, data_dir)
        coach = build_coach(config, store)
        speaker = build_speaker(config, coach, source)
        buttons = build_buttons(config)
        beat_led = build_beat_led(config)
        daemon = Daemon(
            config,
            source=source,
            store=store,
            display=display,
            buttons=buttons.buttons,
            buttons_problem=buttons.problem,
            sync_worker=sync_worker,
            coach=coach,
            speaker=speaker,
            exit_when_source_ends=args.source != "device",
            beat_led=beat_led,
            pairing=None if local_hub else pairing,
            click_phase_s=demo_click_phase(args, config),
        )
        results = daemon.run()
        if hub is not None:
            # One last pass, so a short run ends synced when the Hub is reachable. A demo's
            # throw-away Hub takes sessions even before the clock is synchronised.
            final = SyncWorker(store, HubClient(hub), clock_hold_s=clock_hold_s)
            report = final.sync_once()
            if report.error:
                log.warning("sessions stay queued: %s", report.error)
        records = {r.session_id: store.session(r.session_id, with_notes=False) for r in results}
        if args.json:
            json.dump(
                [
                    {
                        **records[r.session_id].as_json(),
                        "coach_summary": store.session_summary(r.session_id),
                    }
                    for r in results
                    if records.get(r.session_id)
                ],
                sys.stdout,
            )
            sys.stdout.write("\n")
            return 0
        if args.source == "device":
            print(f"audio: {source.description}")  # the rate in use, and a refused one
        for result in results:
            print(format_result(result, records.get(result.session_id)))
            summary = store.session_summary(result.session_id)
            if summary:
                print(f"  coach: {summary}")
        if display is not None and config.display.kind == "emulator":
            where = (
                Path(config.display.emulator_dir)
                if config.display.emulator_dir
                else data_dir / "screens"
            )
            print(f"OLED frames: {where}/ (last.png is the final screen, oled.gif the whole run)")
        if local_hub is not None:
            print(f"Local Hub: {local_hub.url}, database {local_hub.db_path}")
    return 0


def format_result(result: SessionResult, record: Any) -> str:
    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.0%}"

    scores = result.scores
    sync_state = record.sync_state if record is not None else result.sync_state
    lines = [
        f"Session {result.session_id} ({result.status}, {result.duration_s:.1f} s)",
        f"  pitch accuracy {pct(scores.pitch_accuracy if scores else None)}, "
        f"scale conformity {pct(scores.scale_conformity if scores else None)}, "
        f"timing stability {pct(scores.timing_stability if scores else None)}",
    ]
    if scores is not None:
        counts = scores.counts
        lines.append(
            f"  {notes_text(counts.total_notes)}, {counts.in_scale_notes} in scale, "
            f"{counts.out_of_scale_notes} out of scale"
        )
    lines.append(f"  sync: {sync_state}")
    return "\n".join(lines)


def cmd_devices(args: argparse.Namespace) -> int:
    devices = list_input_devices()
    if args.json:
        json.dump([_as_dict(d) for d in devices], sys.stdout)
        sys.stdout.write("\n")
        return 0
    if not devices:
        print("No audio inputs found. Plug in your USB audio interface.")
        return 0
    for d in devices:
        rates = ", ".join(str(r) for r in d.rates) or "neither 44100 nor 48000"
        print(f"[{d.index}] {d.name} — {d.channels} input channel(s); {rates} Hz")
    return 0


def _as_dict(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def cmd_status(args: argparse.Namespace) -> int:
    config = effective_config(args)
    data_dir = _data_dir(args, config)
    with Store.open(data_dir) as store:
        counts = store.outbox_counts(("session",))
        sessions = store.sessions(limit=1)
        traces = store.outbox_counts((TRACE_KIND, FEEDBACK_KIND))
        pause = store.hub_pause()
    hub, offer = hub_and_pairing(data_dir)
    # A Hub set but not paired with: status says so, it is no error.
    unpaired = redact_url(offer.hub_url) if hub is None and offer is not None else None
    hub_shown = hub.shown_url if hub else unpaired
    paired = load_pairing(data_dir)
    coach = coach_status(config)
    buttons = buttons_status(config)
    status = {
        "data_dir": str(data_dir),
        "hub": hub_shown,
        "hub_paired_as": paired.user_id if paired and hub and hub.token == paired.token else None,
        "sessions_waiting": counts.pending,
        "sessions_synced": counts.sent,
        "sessions_rejected": counts.rejected,
        "sync_paused": pause.advice if pause else None,
        "last_session": sessions[0].as_json() if sessions else None,
        "coach": {**coach, "traces_waiting": traces.pending, "traces_rejected": traces.rejected},
        "buttons": buttons,
        "config": describe(config),
    }
    if args.json:
        json.dump(status, sys.stdout, default=str)
        sys.stdout.write("\n")
        return 0
    print(f"state directory: {data_dir}")
    if unpaired is not None:
        hub_shown = f"{unpaired} — not paired: run `fretcoach pair`"
    elif hub_shown is None:
        hub_shown = "not configured (pair with `fretcoach pair --hub URL`)"
    elif hub is not None and paired is not None and hub.token == paired.token:
        hub_shown += f" (paired as {paired.user_id}, {paired.paired_at[:10]})"
    print(f"hub: {hub_shown}")
    print(
        f"sessions: {counts.pending} waiting to sync, {counts.sent} synced, "
        f"{counts.rejected} rejected"
    )
    if pause is not None:
        print(f"{pause.advice} (since {pause.since[:19].replace('T', ' ')} UTC)")
    practice = config.practice
    print(
        f"practice: {practice.scale}, "
        f"{'free tempo' if not practice.bpm else f'{practice.bpm:g} bpm'}, "
        f"strictness {practice.strictness:g}, sensitivity {practice.sensitivity:g}, "
        f"lowest note {note_name(lowest_note_midi(practice.lowest_note))}"
    )
    audio = config.audio
    print(
        f"audio: {repr(audio.device) if audio.device else 'the default input'}, "
        f"input {audio.channel}, {audio.sample_rate} Hz "
        "(the daemon logs the rate in use: `listening on …`)"
    )
    if buttons["problem"] is not None:
        shown = f"none — {buttons['problem']}"
    elif buttons["kind"] == "gpio":
        shown = f"gpio through gpiozero's {buttons['backend']} pin factory"
    else:
        shown = str(buttons["kind"])
    print(f"display: {config.display.kind}; buttons: {shown}")
    print(
        f"coach: {coach['tips']}; tracing: {coach['tracing']} "
        f"({traces.pending} trace(s) waiting for Opik, {traces.rejected} rejected); "
        f"speech: {coach['speech']}"
    )
    return 0


def buttons_status(config: Config) -> dict[str, str | None]:
    """The button backend ``run`` would use: ``kind`` as configured, ``backend`` (for GPIO,
    the pin factory, e.g. ``"lgpio"``; ``"none"`` when there is none) and ``problem``, the
    reason there is none (the daemon then runs without buttons)."""
    kind = config.buttons.kind
    if kind != "gpio":
        return {"kind": kind, "backend": kind, "problem": None}
    try:
        backend = gpio_pin_factory()
    except ButtonsError as err:
        return {"kind": kind, "backend": "none", "problem": str(err)}
    return {"kind": kind, "backend": backend, "problem": None}


def gpio_pin_factory() -> str:
    """The pin factory gpiozero would give GPIO buttons now, by its entry-point name
    (``GPIOZERO_PIN_FACTORY``, else the first of lgpio, rpigpio, pigpio, native that
    loads), with the package behind ``RPi.GPIO`` (RPi.GPIO itself or rpi-lgpio).

    The factory is made and closed again without claiming a pin, so the running daemon's
    buttons are left alone. Raises :class:`ButtonsError` with gpiozero's reasons when no
    factory loads.
    """
    try:
        from gpiozero import Device
        from gpiozero.exc import PinFactoryFallback
    except ImportError as err:
        raise ButtonsError("gpiozero is not installed: pip install gpiozero") from err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PinFactoryFallback)
        try:
            # gpiozero's own choice as `Button()` makes it, without setting the class-wide
            # `Device.pin_factory` (and its atexit clean-up) for this process.
            factory = Device._default_pin_factory()
        except Exception as err:  # BadPinFactory, or a named backend's own error
            reasons = "; ".join(
                str(w.message) for w in caught if issubclass(w.category, PinFactoryFallback)
            )
            raise ButtonsError(f"no GPIO backend for the buttons ({reasons or err})") from err
    try:
        return _pin_factory_name(factory)
    finally:
        factory.close()


def _pin_factory_name(factory: object) -> str:
    from importlib.metadata import entry_points, packages_distributions

    cls = type(factory)
    where = f"{cls.__module__}:{cls.__qualname__}"
    names = [ep.name for ep in entry_points(group="gpiozero_pin_factories") if ep.value == where]
    name = names[0] if names else cls.__qualname__
    if name == "rpigpio":
        providers = packages_distributions().get("RPi")
        if providers:
            name += f" (RPi.GPIO from {', '.join(sorted(set(providers)))})"
    return name


def coach_status(config: Config) -> dict[str, str]:
    """Who writes the tips, where traces go and how tips are spoken (from env and config)."""
    from coach.providers import CoachSettings
    from coach.tracing import OpikSettings

    if not config.coach.enabled:
        tips = "off (coach.enabled = false)"
    else:
        try:
            providers = CoachSettings.from_env().providers
        except ValueError as err:
            providers, tips = (), f"offline coach ({err})"
        else:
            tips = " then ".join(p.model for p in providers) if providers else "offline coach"
            tips += " (offline coach as the last resort)" if providers else " (no OPENAI_API_KEY)"
    try:
        opik = OpikSettings.from_env()
        tracing = (
            f"Opik project {opik.project_name!r} at {redact_url(opik.base_url)}"
            if opik.enabled
            else "off"
        )
    except ValueError as err:
        tracing = f"off ({err})"
    return {"tips": tips, "tracing": tracing, "speech": config.coach.speech}
