"""Configuration: defaults here, then a TOML file, then what was set on the device's own
settings screen, then ``-o section.key=value`` overrides.

The file is the first of ``--config PATH``, ``/etc/fretcoach/config.toml`` and
``$XDG_CONFIG_HOME/fretcoach/config.toml`` that exists. Secrets never live in it: keys and
tokens come from the environment only (``OPENAI_API_KEY``, ``OPIK_*``,
``FRETCOACH_HUB_TOKEN``). Every value is checked on load and a bad one reads like
"`audio.sample_rate` must be one of 44100, 48000, not 22050". The settings screen's values
live in ``settings.json`` in the state directory (:func:`remember_setting` is its one
writer); a file that cannot be read is logged and ignored, never fatal.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import coach.speech_settings as speech_defaults
from coach.speech_settings import SpeechSettings
from dsp import METRICS, parse_scale
from dsp.errors import CoachSettingError, ConfigError, UnknownNoteError, UnknownScaleError
from dsp.metronome import SUBDIVISIONS, MetronomeSettings
from dsp.notes import note_name, parse_note

log = logging.getLogger(__name__)

SYSTEM_CONFIG = Path("/etc/fretcoach/config.toml")
# A key that names a credential (`hub_token`, `openai_api_key`, `password`): whole words
# between underscores, so `practice.key` (a musical key) or `nokey` is just unknown.
SECRET_KEY = re.compile(
    r"(?:^|_)(?:(?:api|access|secret|private)_?key|token|secret|password|passwd)s?(?:_|$)"
)
DEVICE_SETTINGS_FILE = "settings.json"
# What the settings screen sets (device.keymap.SETTINGS, in the same order); nothing else
# is read from settings.json.
DEVICE_SETTING_KEYS = (
    "practice.strictness",
    "practice.sensitivity",
    "metronome.volume",
    "metronome.beats_per_bar",
    "coach.interval_s",
)


@dataclass(frozen=True, slots=True)
class AudioConfig:
    device: str = ""  # a substring of the input's name; "" = the system default input
    sample_rate: int = 48000
    channel: int = 1  # 1-based: a Scarlett Solo's guitar jack is input 2
    queue_hops: int = 64  # ~0.7 s of slack between capture and DSP before hops are dropped
    stall_timeout_s: float = 1.0  # no frames for this long = interface gone
    output: bool = True  # open the interface's output too: the click, and speech mixed in


@dataclass(frozen=True, slots=True)
class PracticeConfig:
    scale: str = "A minor pentatonic"
    bpm: float = 0.0  # 0 = free tempo
    strictness: float = 0.5
    sensitivity: float = 0.5
    metrics: tuple[str, ...] = METRICS
    a4_hz: float = 440.0
    checkpoint_s: float = 5.0
    lowest_note: str = "C2"  # the guitar's lowest string (see LOWEST_NOTES)


#: The lowest string ``practice.lowest_note`` may name (MIDI): A1 (drop A) to E2 (standard).
#: Under A1 the tracker's pitch window (lags down to 47 Hz) and its 50 Hz high-pass reach
#: no further, and 50 Hz mains hum is G1; over E2 a standard guitar's low E would be cut.
LOWEST_NOTES = (33, 40)


def lowest_note_midi(text: str, *, name: str = "practice.lowest_note") -> int:
    """The MIDI number of the lowest string ``text`` names ("B1", "a1", "Bb1"), within
    LOWEST_NOTES; ConfigError naming ``name`` (a key or an option) otherwise. Notes under
    it are not notes to the tracker (``TrackerConfig.min_midi``)."""
    low, high = LOWEST_NOTES
    try:
        midi = parse_note(str(text))
    except UnknownNoteError:
        midi = None
    if midi is None or not low <= midi <= high:
        raise ConfigError(
            f"`{name}` must be a note from {note_name(low)} to {note_name(high)}, your "
            f"guitar's lowest string (E2 standard, D2 drop D, C2 drop C, B1 B standard or a "
            f"7-string, A1 drop A), not {text!r}: under {note_name(low)} the pitch analysis "
            f"reaches no lower and 50 Hz mains hum is G1; over {note_name(high)} a standard "
            "guitar's low E would not count"
        )
    return midi


@dataclass(frozen=True, slots=True)
class DisplayConfig:
    kind: str = "oled"  # oled | emulator | none
    driver: str = "ssd1306"  # ssd1306 | sh1106
    interface: str = "i2c"  # i2c | spi: how the OLED module is wired
    i2c_port: int = 1
    i2c_address: int = 0x3C
    spi_port: int = 0  # /dev/spidev<port>.<device>: SPI0 ...
    spi_device: int = 0  # ... with its chip select on CE0 (GPIO 8)
    spi_dc_pin: int = 24  # BCM numbers of the data/command and reset lines (luma's defaults)
    spi_rst_pin: int = 25
    spi_speed_hz: int = 8_000_000  # 1 KiB frame in ~1 ms; a long or loose wire may need less
    rotate: int = 0  # 0 or 2 (180°, for an upside-down mount)
    max_fps: float = 15.0
    dim_after_s: float = 60.0
    emulator_dir: str = ""  # "" = <state dir>/screens


@dataclass(frozen=True, slots=True)
class ButtonsConfig:
    kind: str = "gpio"  # gpio | keyboard | none
    start_pin: int = 17
    select_pin: int = 27
    mode_pin: int = 22
    feedback_pin: int = 23
    debounce_ms: float = 30.0
    long_press_ms: float = 800.0


@dataclass(frozen=True, slots=True)
class CoachConfig:
    enabled: bool = True  # with no OPENAI_API_KEY the offline coach writes the tips
    first_tip_s: float = 15.0
    interval_s: float = 60.0  # 30, 60, 120 or 300
    min_notes: int = 8  # no tip from a window with fewer notes
    tip_page_s: float = 3.0  # how long each line of a long tip stays on the OLED
    # Text-to-speech of each tip (coach.speech: off | auto | openai | espeak); the rest as
    # coach.speech_settings.SpeechSettings documents, whose defaults these are.
    speech: str = "off"
    speech_voice: str = speech_defaults.DEFAULT_VOICE
    speech_model: str = speech_defaults.DEFAULT_MODEL
    speech_instructions: str = speech_defaults.DEFAULT_INSTRUCTIONS
    speech_speed: float = 1.0
    speech_device: str = ""  # "" = the interface (audio.device), else an ALSA name/card
    speech_player: str = ""  # "" = aplay -q -D {device} -
    speech_timeout_s: float = speech_defaults.DEFAULT_TIMEOUT_S
    speech_espeak: str = speech_defaults.ESPEAK
    speech_espeak_voice: str = speech_defaults.DEFAULT_ESPEAK_VOICE
    speech_espeak_wpm: int = speech_defaults.DEFAULT_ESPEAK_WPM


@dataclass(frozen=True, slots=True)
class MetronomeConfig:
    """The click, whenever a session has a tempo (``practice.bpm`` or the tempo screen)."""

    enabled: bool = True
    volume: float = 0.5  # 0–1 of full scale at the interface's output
    beats_per_bar: int = 4  # beat 1 of each bar is accented
    subdivision: str = "quarters"  # quarters | eighths | triplets | 16ths
    count_in: bool = True  # a bar of clicks before scoring starts
    latency_ms: float = 0.0  # added to the round trip the interface reports (calibration)
    led_pin: int = -1  # BCM GPIO of an LED that lights on each beat; -1 = none


@dataclass(frozen=True, slots=True)
class SyncConfig:
    user_id: str = "guitarist"
    data_dir: str = ""  # "" = FRETCOACH_DATA_DIR, systemd's STATE_DIRECTORY, or ~/.local/share


@dataclass(frozen=True, slots=True)
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    practice: PracticeConfig = field(default_factory=PracticeConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    buttons: ButtonsConfig = field(default_factory=ButtonsConfig)
    coach: CoachConfig = field(default_factory=CoachConfig)
    metronome: MetronomeConfig = field(default_factory=MetronomeConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)


_CHOICES: dict[str, tuple[Any, ...]] = {
    "audio.sample_rate": (44100, 48000),
    "display.kind": ("oled", "emulator", "none"),
    "display.driver": ("ssd1306", "sh1106"),
    "display.rotate": (0, 2),  # the screens are landscape: 0° or 180°
    "display.interface": ("i2c", "spi"),
    # The clock rates luma's spi() accepts (it asserts on anything else).
    "display.spi_speed_hz": tuple(
        int(mhz * 1_000_000)
        for mhz in (0.5, 1, 2, 4, 8, 16, 20, 24, 28, 32, 36, 40, 44, 48, 50, 52)
    ),
    "buttons.kind": ("gpio", "keyboard", "none"),
    "coach.interval_s": (30.0, 60.0, 120.0, 300.0),
    "metronome.subdivision": tuple(SUBDIVISIONS),
}
_RANGES: dict[str, tuple[float, float]] = {
    "audio.channel": (1, 32),
    "audio.queue_hops": (4, 4096),
    "audio.stall_timeout_s": (0.1, 30),
    "practice.bpm": (0, 400),
    "practice.strictness": (0, 1),
    "practice.sensitivity": (0, 1),
    "practice.a4_hz": (415, 466),
    "practice.checkpoint_s": (0.5, 5),
    "display.i2c_port": (0, 32),
    "display.i2c_address": (0x03, 0x77),
    "display.spi_port": (0, 6),  # SPI0–SPI6 (the Pi 4 has the most)
    "display.spi_device": (0, 2),  # a chip select: CE0, CE1 (CE2 on SPI1)
    "display.spi_dc_pin": (0, 27),  # the 40-pin header's BCM GPIOs
    "display.spi_rst_pin": (0, 27),
    "display.max_fps": (1, 60),
    "display.dim_after_s": (0, 86400),
    "buttons.debounce_ms": (0, 500),
    "buttons.long_press_ms": (100, 5000),
    "coach.first_tip_s": (1, 600),
    "coach.min_notes": (1, 200),
    "coach.tip_page_s": (0.5, 30),
    "metronome.volume": (0, 1),
    "metronome.beats_per_bar": (1, 12),
    "metronome.latency_ms": (-200, 500),
    "metronome.led_pin": (-1, 27),
}


def config_paths(explicit: Path | None) -> list[Path]:
    if explicit is not None:
        return [explicit]
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [SYSTEM_CONFIG, Path(xdg) / "fretcoach" / "config.toml"]


def load_config(
    path: Path | None = None,
    overrides: Sequence[str] = (),
    *,
    defaults: Config | None = None,
    device_settings: Path | None = None,
) -> tuple[Config, Path | None]:
    """The effective configuration and the file it came from (None: defaults only).

    ``device_settings`` is the settings screen's file (:func:`device_settings_path`): its
    values override the config file's, and ``overrides`` (``-o``) override them."""
    config = defaults or Config()
    source = None
    for candidate in config_paths(path):
        if candidate.exists() or path is not None:
            config = _apply_file(config, candidate)
            source = candidate
            break
    if device_settings is not None:
        config = _apply_device_settings(config, device_settings)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or "." not in key:
            raise ConfigError(f"-o expects section.key=value, e.g. practice.bpm=90, not {item!r}")
        config = _apply(config, key.strip(), _parse_value(raw.strip()), origin="-o")
    return validate(config), source


def _apply_file(config: Config, path: Path) -> Config:
    try:
        # Only a regular file: opening a FIFO blocks until a writer comes, and a device
        # such as /dev/zero never ends, so either would hang every command that loads config.
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(
                f"config file {path} is {_file_kind(mode)}, not a regular file; "
                "point --config at a regular .toml file"
            )
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} does not exist") from err
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {path} is not UTF-8 (byte {err.start} is 0x{err.object[err.start]:02x});"
            " save it as UTF-8"
        ) from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from err
    for section, values in data.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"{path}: `{section}` must be a [section], not a value")
        for key, value in values.items():
            config = _apply(config, f"{section}.{key}", value, origin=str(path))
    return config


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def device_settings_path(data_dir: Path) -> Path:
    """Where the settings screen's values are kept: beside the session store."""
    return data_dir / DEVICE_SETTINGS_FILE


def read_device_settings(path: Path) -> dict[str, Any]:
    """The values set on the device, by dotted key; {} when there are none or the file is
    unreadable (logged: a damaged file must not keep the device from starting)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        log.warning("ignoring the device's saved settings in %s: %s", path, err)
        return {}
    if not isinstance(data, dict):
        log.warning("ignoring the device's saved settings in %s: not a JSON object", path)
        return {}
    return {key: value for key, value in data.items() if key in DEVICE_SETTING_KEYS}


def remember_setting(path: Path, key: str, value: float) -> None:
    """Keep ``key = value`` in the settings file, with the values already there: written to
    a temporary file in the same folder and renamed over the old one, so a power cut leaves
    the old file or the new one, never half of one. Raises ``OSError``."""
    if key not in DEVICE_SETTING_KEYS:
        raise ValueError(f"`{key}` is not set on the device; those are {DEVICE_SETTING_KEYS}")
    values = {**read_device_settings(path), key: value}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(values, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _apply_device_settings(config: Config, path: Path) -> Config:
    """Each saved value that is still valid; one that is not is logged and skipped."""
    for key, value in read_device_settings(path).items():
        try:
            changed = _apply(config, key, value, origin=str(path))
            _check(changed, key)
        except ConfigError as err:
            log.warning("ignoring a saved setting: %s", err)
            continue
        config = changed
    return config


def _parse_value(raw: str) -> Any:
    """``-o`` values are TOML values; a bare word is taken as a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply(config: Config, dotted: str, value: Any, *, origin: str) -> Config:
    section_name, _, key = dotted.partition(".")
    sections = {f.name for f in fields(Config)}
    if section_name not in sections:
        listed = ", ".join(sorted(sections))
        raise ConfigError(f"{origin}: unknown section `{section_name}`; sections are {listed}")
    section = getattr(config, section_name)
    known = {f.name: f for f in fields(section)}
    if key not in known:
        if SECRET_KEY.search(key.lower().replace("-", "_")):
            raise ConfigError(
                f"{origin}: `{dotted}` looks like a secret; secrets come from the environment "
                "only (OPENAI_API_KEY, OPIK_API_KEY, FRETCOACH_HUB_TOKEN)"
            )
        raise ConfigError(
            f"{origin}: unknown setting `{dotted}`; `{section_name}` has {', '.join(known)}"
        )
    default = getattr(type(section)(), key)
    coerced = _coerce(dotted, value, default)
    return replace(config, **{section_name: replace(section, **{key: coerced})})


def _coerce(dotted: str, value: Any, default: Any) -> Any:
    expected = type(default)
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif expected is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif expected is str:
        if isinstance(value, str):
            return value
    elif expected is tuple:
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
    raise ConfigError(f"`{dotted}` must be {_describe(expected)}, not {value!r}")


def _describe(kind: type) -> str:
    return {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "a string",
        tuple: "a list of names",
    }.get(kind, kind.__name__)


def _check(config: Config, dotted: str) -> None:
    """Refuse ``dotted``'s value when it is off its choices or out of its range."""
    value = _get(config, dotted)
    if dotted in _CHOICES and value not in _CHOICES[dotted]:
        listed = ", ".join(str(c) for c in _CHOICES[dotted])
        raise ConfigError(f"`{dotted}` must be one of {listed}, not {value!r}")
    if dotted in _RANGES:
        low, high = _RANGES[dotted]
        if not low <= value <= high:
            raise ConfigError(f"`{dotted}` must be between {low:g} and {high:g}, not {value:g}")


def validate(config: Config) -> Config:
    for dotted in (*_CHOICES, *(k for k in _RANGES if k not in _CHOICES)):
        _check(config, dotted)
    try:
        parse_scale(config.practice.scale)
    except UnknownScaleError as err:
        raise ConfigError(f"`practice.scale`: {err}") from err
    lowest_note_midi(config.practice.lowest_note)
    unknown = set(config.practice.metrics) - set(METRICS)
    if unknown or not config.practice.metrics:
        raise ConfigError(
            f"`practice.metrics` must be a non-empty list of {', '.join(METRICS)}, "
            f"not {list(config.practice.metrics)}"
        )
    try:
        speech_settings(config)
    except CoachSettingError as err:
        raise ConfigError(str(err)) from err
    pins = [
        config.buttons.start_pin,
        config.buttons.select_pin,
        config.buttons.mode_pin,
        config.buttons.feedback_pin,
    ]
    if len(set(pins)) != len(pins):
        raise ConfigError(f"`buttons.*_pin` must be four different GPIO pins, not {pins}")
    _check_spi_pins(config)
    led = config.metronome.led_pin
    if led >= 0 and config.buttons.kind == "gpio" and led in pins:
        raise ConfigError(f"`metronome.led_pin` must not be a button's pin, not {led}")
    return config


#: The SPI0 bus's own lines (CE1, CE0, MISO, MOSI, SCLK); DC and RST cannot share them.
SPI0_PINS = (7, 8, 9, 10, 11)


def _check_spi_pins(config: Config) -> None:
    """An SPI OLED's DC and RST lines are plain GPIOs: they must not be each other, a
    button, or (on SPI0) a line of the bus itself."""
    shown = config.display
    if shown.kind != "oled" or shown.interface != "spi":
        return
    dc, rst = shown.spi_dc_pin, shown.spi_rst_pin
    if dc == rst:
        raise ConfigError(
            f"`display.spi_dc_pin` and `display.spi_rst_pin` must be different GPIO pins, "
            f"not both {dc}"
        )
    buttons = {
        config.buttons.start_pin: "buttons.start_pin",
        config.buttons.select_pin: "buttons.select_pin",
        config.buttons.mode_pin: "buttons.mode_pin",
        config.buttons.feedback_pin: "buttons.feedback_pin",
    }
    for key, pin in (("display.spi_dc_pin", dc), ("display.spi_rst_pin", rst)):
        if config.buttons.kind == "gpio" and pin in buttons:
            raise ConfigError(f"`{key}` must not be a button's pin, not {pin} (`{buttons[pin]}`)")
        if shown.spi_port == 0 and pin in SPI0_PINS:
            listed = ", ".join(str(p) for p in SPI0_PINS)
            raise ConfigError(
                f"`{key}` must not be one of the SPI bus's own pins ({listed}), not {pin}"
            )


def metronome_settings(config: Config) -> MetronomeSettings:
    """The ``metronome.*`` keys as a session's metronome takes them."""
    m = config.metronome
    return MetronomeSettings(
        enabled=m.enabled,
        volume=m.volume,
        beats_per_bar=m.beats_per_bar,
        subdivision=SUBDIVISIONS[m.subdivision],
        count_in=m.count_in,
        latency_s=m.latency_ms / 1000.0,
    )


def speech_settings(config: Config) -> SpeechSettings:
    """The ``coach.speech*`` keys as the speaker takes them; speech goes out through the
    interface (``audio.device``) unless ``coach.speech_device`` names another output."""
    c = config.coach
    return SpeechSettings(
        mode=c.speech,
        voice=c.speech_voice,
        model=c.speech_model,
        instructions=c.speech_instructions,
        speed=c.speech_speed,
        output_device=c.speech_device or speech_output_for(config.audio.device),
        player=c.speech_player,
        timeout_s=c.speech_timeout_s,
        espeak=c.speech_espeak,
        espeak_voice=c.speech_espeak_voice,
        espeak_wpm=c.speech_espeak_wpm,
    )


def speech_output_for(input_name: str) -> str:
    """The interface's own output for speech, from ``audio.device`` (a substring of the
    PortAudio input's name, e.g. "Scarlett Solo USB: Audio (hw:1,0)"): its ALSA card
    through ``plughw`` (which converts the 24 kHz mono speech), or the card's name for
    the speaker to look up; "" (ALSA's default) when no interface is named."""
    name = input_name.strip()
    found = re.search(r"\bhw:(\d+)(?:,(\d+))?", name)
    if found:
        return f"plughw:{found[1]},{found[2] or 0}"
    card = re.search(r"\bCARD=([^,\s)]+)", name)
    if card:  # "front:CARD=Solo,DEV=0", "sysdefault:CARD=Solo", "plughw:CARD=Solo,DEV=0"
        return f"plughw:CARD={card[1]},DEV=0"
    return name.split(":", 1)[0].strip()  # "Scarlett Solo USB: Audio" → the card's name


def _get(config: Config, dotted: str) -> Any:
    section, _, key = dotted.partition(".")
    return getattr(getattr(config, section), key)


def describe(config: Config) -> dict[str, dict[str, Any]]:
    """The effective configuration as plain data (for ``fretcoach status`` and docs)."""
    return {
        f.name: {
            g.name: getattr(getattr(config, f.name), g.name)
            for g in fields(getattr(config, f.name))
        }
        for f in fields(config)
    }
