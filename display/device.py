"""The one thin adapter between screens and a luma device, and the thread that feeds it.

``open_display(kind)`` gives a ``DisplaySink``: a real SSD1306/SH1106 OLED over I2C or
SPI (luma.oled), a frame recorder for development (PNG per frame, animated GIF at close),
luma's ``dummy`` device for tests, or nothing at all. Only the "oled" branch imports
luma's serial code (and through it smbus2, spidev or RPi.GPIO), so this module loads on
any machine.

``DisplayWorker`` owns the sink on its own thread so that nothing the daemon does ever
waits for I2C: ``show(state)`` drops the state into a single latest-wins slot and returns.
The thread renders at most ``max_fps`` frames a second — except a newly played note, which
is drawn as soon as the panel has taken the frame before (a write holds the thread for as
long as the bus needs: ~23 ms for 1 KiB at 400 kHz) — pushes a frame only when its pixels
changed (no ``clear()`` first: that is what makes OLEDs flicker), dims the panel when
nothing changed for a while, and survives the display going away: it logs once, carries
on without one, and reopens it every few seconds.
"""

from __future__ import annotations

import errno
import glob
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from PIL import Image

from display.render import HEIGHT, WIDTH, render
from display.state import ScreenState
from dsp.errors import DisplayError

log = logging.getLogger(__name__)

KINDS = ("oled", "emulator", "dummy", "none")
DRIVERS = ("ssd1306", "sh1106")
INTERFACES = ("i2c", "spi")
#: The clock rates luma's ``spi()`` accepts (it asserts, so they are checked first).
SPI_SPEEDS_HZ = tuple(
    int(mhz * 1_000_000) for mhz in (0.5, 1, 2, 4, 8, 16, 20, 24, 28, 32, 36, 40, 44, 48, 50, 52)
)
#: luma's SSD1306/SH1106 initialisation contrast; what the worker restores after dimming.
BRIGHT = 0xCF
#: Low enough to read as "asleep" across a room, high enough to read up close.
DIM = 0x10


class LumaDevice(Protocol):
    """The part of ``luma.core.device.device`` the sink uses."""

    persist: bool

    def display(self, image: Image.Image) -> None: ...
    def contrast(self, level: int) -> None: ...
    def cleanup(self) -> None: ...


class DisplaySink:
    """Where frames go: one luma device (or none), with its errors made ours.

    ``display`` and ``contrast`` raise ``DisplayError`` when the device fails (an
    unplugged OLED shows up as an I/O error on the next write), so the worker has one
    thing to catch whatever the backend.
    """

    def __init__(
        self,
        device: LumaDevice | None,
        *,
        name: str,
        device_errors: tuple[type[BaseException], ...] = (OSError,),
    ) -> None:
        self.device = device
        self.name = name
        self.contrast_level = BRIGHT
        self._errors = device_errors
        self._closed = False

    def __repr__(self) -> str:
        return f"DisplaySink({self.name})"

    def display(self, image: Image.Image) -> None:
        if self.device is None:
            return
        try:
            self.device.display(image)
        except self._errors as err:
            raise DisplayError(f"display {self.name} stopped answering: {err}") from err

    def contrast(self, level: int) -> None:
        if not 0 <= level <= 255:
            raise ValueError(f"contrast must be 0–255, not {level}")
        if self.device is not None:
            try:
                self.device.contrast(level)
            except self._errors as err:
                raise DisplayError(f"display {self.name} stopped answering: {err}") from err
        self.contrast_level = level

    def close(self, *, persist: bool = True) -> None:
        """Release the device. With ``persist`` the last frame stays lit (luma's
        ``persist``); without it luma switches the panel off and clears it."""
        if self._closed or self.device is None:
            self._closed = True
            return
        self._closed = True
        self.device.persist = persist
        try:
            self.device.cleanup()
        except self._errors as err:
            raise DisplayError(f"display {self.name} failed while closing: {err}") from err


def open_display(
    kind: str,
    *,
    driver: str = "ssd1306",
    interface: str = "i2c",
    i2c_port: int = 1,
    i2c_address: int = 0x3C,
    spi_port: int = 0,
    spi_device: int = 0,
    spi_dc_pin: int = 24,
    spi_rst_pin: int = 25,
    spi_speed_hz: int = 8_000_000,
    rotate: int = 0,
    emulator_dir: Path | None = None,
    spi_bus: Any = None,
    gpio: Any = None,
) -> DisplaySink:
    """Open the display of ``kind`` (one of ``KINDS``); raises ``DisplayError``.

    ``rotate`` is luma's: 0, or 2 for a panel mounted upside down. The screens are drawn
    landscape, so the portrait rotations 1 and 3 are refused. An "oled" is on I2C
    (``i2c_port``, ``i2c_address``) or SPI (``/dev/spidev<spi_port>.<spi_device>``, with
    the BCM pins ``spi_dc_pin`` and ``spi_rst_pin``). ``spi_bus`` and ``gpio`` are what
    luma's ``spi()`` takes instead of opening spidev and RPi.GPIO itself: objects with
    their APIs, such as a test's fakes.
    """
    if kind not in KINDS:
        raise DisplayError(f"display.kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if rotate not in (0, 2):
        raise DisplayError(
            f"display.rotate must be 0 or 2 (the screens are landscape 128×64), not {rotate!r}"
        )
    if kind == "none":
        return DisplaySink(None, name="none")
    if kind == "emulator":
        if emulator_dir is None:
            raise DisplayError("the emulator display needs a folder for its frames")
        return DisplaySink(FrameRecorder(Path(emulator_dir)), name=f"emulator in {emulator_dir}")
    if kind == "dummy":
        from luma.core.device import dummy

        return DisplaySink(dummy(width=WIDTH, height=HEIGHT, rotate=rotate, mode="1"), name="dummy")
    if driver not in DRIVERS:
        raise DisplayError(f"display.driver must be one of {', '.join(DRIVERS)}, not {driver!r}")
    if interface not in INTERFACES:
        raise DisplayError(
            f"display.interface must be one of {', '.join(INTERFACES)}, not {interface!r}"
        )
    if interface == "spi":
        if spi_speed_hz not in SPI_SPEEDS_HZ:
            listed = ", ".join(str(hz) for hz in SPI_SPEEDS_HZ)
            raise DisplayError(
                f"display.spi_speed_hz must be one of {listed}, not {spi_speed_hz!r}"
            )
        spi_pins = _SpiPins(spi_port, spi_device, spi_dc_pin, spi_rst_pin, spi_speed_hz)
        return _open_oled(driver, rotate, lambda: _spi_serial(spi_pins, spi_bus, gpio))
    return _open_oled(driver, rotate, lambda: _i2c_serial(i2c_port, i2c_address))


class _Serial(NamedTuple):
    """An open luma serial interface, where it is, and how its OLED is wired."""

    serial: Any
    where: str
    check: str


class _SpiPins(NamedTuple):
    port: int
    device: int
    dc: int
    rst: int
    speed_hz: int


def _open_oled(driver: str, rotate: int, open_serial: Callable[[], _Serial]) -> DisplaySink:
    try:
        import luma.core.error as luma_error
        from luma.oled.device import sh1106, ssd1306
    except ImportError as err:
        raise DisplayError(f"the OLED driver is missing ({err}): pip install luma.oled") from err

    serial, where, check = open_serial()
    where = f"{driver} {where}"
    device_class = ssd1306 if driver == "ssd1306" else sh1106
    try:
        device = device_class(serial, width=WIDTH, height=HEIGHT, rotate=rotate)
    except (luma_error.Error, OSError) as err:
        serial.cleanup()
        raise DisplayError(f"no OLED answered as {where}: {check}") from err
    return DisplaySink(device, name=where, device_errors=(OSError, luma_error.Error))


def _i2c_serial(port: int, address: int) -> _Serial:
    import luma.core.error as luma_error
    from luma.core.interface.serial import i2c

    bus = f"/dev/i2c-{port}"
    try:
        serial = i2c(port=port, address=address)
    except luma_error.DeviceNotFoundError as err:
        raise DisplayError(
            f"I2C bus {bus} not found: enable I2C with `sudo raspi-config nonint do_i2c 0` "
            "(or raspi-config → Interface Options → I2C) and reboot"
        ) from err
    except luma_error.DevicePermissionError as err:
        raise DisplayError(
            f"I2C device permission denied: {bus}: add the user to the i2c group "
            "(`sudo usermod -aG i2c $USER`, then log in again)"
        ) from err
    except luma_error.DeviceAddressError as err:
        raise DisplayError(
            f"display.i2c_address {address!r} is not an I2C address: use 0x3C or 0x3D"
        ) from err
    except ImportError as err:
        raise DisplayError(f"smbus2 is missing ({err}): pip install smbus2") from err
    except OSError as err:
        raise DisplayError(f"cannot open I2C bus {bus}: {err}") from err
    return _Serial(
        serial,
        f"at 0x{address:02X} on {bus}",
        "check the wiring (SDA to GPIO 2, SCL to GPIO 3, VCC to 3.3 V, GND) and the address "
        f"with `i2cdetect -y {port}` (usually 0x3C, sometimes 0x3D)",
    )


def _spi_serial(pins: _SpiPins, spi_bus: Any, gpio: Any) -> _Serial:
    """luma's ``spi()``, its failures made ours. luma claims the DC and RST pins before it
    opens spidev, so with SPI switched off it fails on whatever is missing first; the
    missing ``/dev/spidev*`` is named ahead of that, as it is the fix that comes first."""
    import luma.core.error as luma_error
    from luma.core.interface.serial import spi

    node = f"/dev/spidev{pins.port}.{pins.device}"
    try:
        serial = spi(
            spi=spi_bus,
            gpio=gpio,
            port=pins.port,
            device=pins.device,
            bus_speed_hz=pins.speed_hz,
            gpio_DC=pins.dc,
            gpio_RST=pins.rst,
        )
    except Exception as err:
        raise _spi_error(err, node, pins, luma_error) from err
    wiring = (
        f"DIN/MOSI to GPIO 10, CLK to GPIO 11, CS to CE{pins.device} (GPIO {8 - pins.device}), "
        if pins.port == 0 and pins.device in (0, 1)
        else f"DIN, CLK and CS to SPI{pins.port}'s MOSI, SCLK and CE{pins.device}, "
    )
    return _Serial(
        serial,
        f"on {node} (DC GPIO {pins.dc}, RST GPIO {pins.rst})",
        f"check the wiring ({wiring}DC to GPIO {pins.dc}, RES to GPIO {pins.rst}, "
        "VCC to 3.3 V, GND)",
    )


def _spi_error(err: Exception, node: str, pins: _SpiPins, luma_error: Any) -> DisplayError:
    missing = _missing_package(err)
    if not Path(node).exists() and isinstance(err, ImportError | OSError | luma_error.Error):
        nodes = sorted(glob.glob("/dev/spidev*"))
        then = f"; then {missing}" if missing else ""
        if not nodes:
            return DisplayError(
                f"SPI is off (no {node}): enable it with `sudo raspi-config nonint do_spi 0` "
                f"(or dtparam=spi=on in /boot/firmware/config.txt) and reboot{then}"
            )
        return DisplayError(
            f"SPI device {node} not found; this machine has {', '.join(nodes)}: set "
            f"display.spi_port and display.spi_device to the one the OLED's CS is on{then}"
        )
    if missing:
        return DisplayError(f"cannot drive the SPI OLED ({err}): {missing}")
    if isinstance(err, PermissionError) or (
        isinstance(err, OSError) and err.errno in (errno.EACCES, errno.EPERM)
    ):
        return DisplayError(
            f"SPI device permission denied: {node}: add the user to the spi and gpio groups "
            "(`sudo usermod -aG spi,gpio $USER`, then log in again)"
        )
    if isinstance(err, luma_error.UnsupportedPlatform | RuntimeError):
        return DisplayError(
            f"no GPIO access for the OLED's DC and RST pins (GPIO {pins.dc}, {pins.rst}): {err}; "
            "on a Raspberry Pi add the user to the gpio group (`sudo usermod -aG gpio $USER`, "
            'then log in again); elsewhere use display.interface = "i2c" or another display.kind'
        )
    return DisplayError(
        f"cannot open the SPI OLED on {node} (DC GPIO {pins.dc}, RST GPIO {pins.rst}): {err}"
    )


def _missing_package(err: BaseException) -> str | None:
    """What to install when ``err`` is spidev's or RPi.GPIO's import failing."""
    if not isinstance(err, ImportError):
        return None
    name = (err.name or "").split(".")[0]
    if name == "spidev":
        return "install spidev (`pip install spidev`)"
    if name == "RPi":
        return (
            "install RPi.GPIO for the DC and RST pins (`pip install rpi-lgpio`, which "
            "provides it on lgpio and works on a Pi 5 too)"
        )
    return f"install the missing module ({err})"


class FrameRecorder:
    """A luma-shaped device for development that records what an OLED would show.

    Every frame becomes ``frame_000001.png``… (128×64, exactly the pixels sent), and
    ``cleanup()`` writes ``last.png`` and ``oled.gif``: the session as an animation, 3×
    size, in real-time pacing, dimmed frames drawn dim. luma.emulator's ``capture`` and
    ``gifanim`` do the same but need pygame, and ``gifanim`` writes only from an atexit
    hook, so this is Pillow alone. The GIF keeps the last ``gif_max_frames`` frames.
    """

    LIT = (191, 230, 255)  # the pale blue of a typical SSD1306 panel

    def __init__(
        self,
        directory: Path,
        *,
        width: int = WIDTH,
        height: int = HEIGHT,
        scale: int = 3,
        gif_max_frames: int = 2000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.size = (width, height)
        self.mode = "1"
        self.persist = False
        self.frames_written = 0
        self.image: Image.Image | None = None
        self._scale = scale
        self._monotonic = monotonic
        self._level = BRIGHT
        self._frames: deque[tuple[float, Image.Image, int]] = deque(maxlen=gif_max_frames)
        self._closed = False
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for stale in [*directory.glob("frame_*.png"), self.gif_path, self.last_path]:
                stale.unlink(missing_ok=True)
        except OSError as err:
            raise DisplayError(f"cannot write emulator frames to {directory}: {err}") from err

    @property
    def gif_path(self) -> Path:
        return self.directory / "oled.gif"

    @property
    def last_path(self) -> Path:
        return self.directory / "last.png"

    def display(self, image: Image.Image) -> None:
        if image.size != self.size:
            raise ValueError(f"frame is {image.size}, the display is {self.size}")
        self.image = image.convert("1")
        self.frames_written += 1
        self.image.save(self.directory / f"frame_{self.frames_written:06}.png")
        self._frames.append((self._monotonic(), self.image, self._level))

    def contrast(self, level: int) -> None:
        self._level = level
        if self.image is not None:
            self._frames.append((self._monotonic(), self.image, level))

    def show(self) -> None:
        self.contrast(BRIGHT)

    def hide(self) -> None:
        self.contrast(0)

    def clear(self) -> None:
        self.display(Image.new("1", self.size))

    def cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.persist:
            self.hide()
            self.clear()
        if self.image is not None:
            self.image.save(self.last_path)
        self._write_gif()

    def _write_gif(self) -> None:
        # A frame replaced at the same instant (contrast restored just before a new
        # image) was never visible: leave it out.
        frames = [
            frame
            for frame, after in zip(self._frames, [*list(self._frames)[1:], None], strict=True)
            if after is None or after[0] - frame[0] >= 0.001
        ]
        if not frames:
            return
        size = (self.size[0] * self._scale, self.size[1] * self._scale)
        palette = [0, 0, 0, *self.LIT, *(c * 2 // 5 for c in self.LIT)]

        def picture(image: Image.Image, level: int) -> Image.Image:
            frame = Image.new("P", size, 0)
            frame.putpalette(palette)
            if level:
                lit = 1 if level >= 0x80 else 2  # the dim colour below half contrast
                frame.paste(lit, mask=image.resize(size, Image.Resampling.NEAREST))
            return frame

        ends = [at for at, _, _ in frames[1:]] + [frames[-1][0] + 2.0]
        durations = [
            max(round((end - at) * 1000), 20) for (at, _, _), end in zip(frames, ends, strict=True)
        ]
        first, *rest = frames
        # A generator, so only Pillow's cropped frame differences are held in memory.
        picture(first[1], first[2]).save(
            self.gif_path,
            save_all=True,
            append_images=(picture(image, level) for _, image, level in rest),
            duration=durations,
            loop=0,
        )


class DisplayWorker:
    """Feeds a display from its own thread; ``show()`` never blocks.

        ``open_sink`` is called to open the display, and again every ``retry_s`` while it
        is missing. ``dim_after_s`` of None or 0 never dims. ``monotonic`` is the clock for
        frame pacing, dimming and retries; tests pass a fake one and drive ``poll()``
        themselves with ``threaded=False``.

        Counters for the bench: ``frames_pushed`` (sent to the device), ``frames_skipped``
        (asked for but identical to what is shown), ``states_dropped`` (replaced in the slot
        by a newer state before they were drawn) and ``errors`` (device failures and frames
    that failed to draw).
        ``on_frame(state, t)`` is called after each push with the ``monotonic`` time.
    """

    def __init__(
        self,
        open_sink: Callable[[], DisplaySink],
        *,
        max_fps: float = 15.0,
        dim_after_s: float | None = 60.0,
        bright: int = BRIGHT,
        dim: int = DIM,
        retry_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        on_frame: Callable[[ScreenState, float], None] | None = None,
        threaded: bool = True,
    ) -> None:
        if max_fps <= 0:
            raise ValueError(f"max_fps must be positive, not {max_fps}")
        self.frames_pushed = 0
        self.frames_skipped = 0
        self.states_dropped = 0
        self.errors = 0
        self._open_sink = open_sink
        self._interval = 1.0 / max_fps
        self._dim_after = dim_after_s or None
        self._bright, self._dim = bright, dim
        self._retry_s = retry_s
        self._monotonic = monotonic
        self._on_frame = on_frame
        self._threaded = threaded

        self._cond = threading.Condition()
        self._pending: ScreenState | None = None
        self._woken = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._closed = False

        self._sink: DisplaySink | None = None
        self._outage_logged = False
        self._failure_logged = False
        self._retry_at = float("-inf")
        self._next_frame_at = float("-inf")
        self._last_state: ScreenState | None = None
        self._last_image: Image.Image | None = None
        self._shown_bytes: bytes | None = None
        self._last_change = monotonic()
        self._dimmed = False

    @property
    def sink(self) -> DisplaySink | None:
        """The open display, or None while there is none."""
        return self._sink

    @property
    def dimmed(self) -> bool:
        return self._dimmed

    def start(self) -> None:
        """Start the thread (``show()`` does this on first use)."""
        with self._cond:
            if self._thread is not None or self._closed or not self._threaded:
                return
            self._thread = threading.Thread(target=self._run, name="display", daemon=True)
            self._thread.start()

    def show(self, state: ScreenState) -> None:
        """Make ``state`` the next thing to draw, replacing any not drawn yet."""
        with self._cond:
            if self._pending is not None:
                self.states_dropped += 1
            self._pending = state
            self._woken = True
            self._cond.notify()
        if self._thread is None and self._threaded:
            self.start()

    def poll(self) -> float | None:
        """Do whatever is due now: (re)open the display, draw the latest state if the
        frame budget allows, dim. Returns seconds until something may next be due, or
        None when only a new state can make work. The thread loops on this."""
        now = self._monotonic()
        if self._sink is None and now >= self._retry_at:
            self._try_open(now)

        with self._cond:
            state = self._pending
            if state is not None and (
                now >= self._next_frame_at or _new_note(state, self._last_state)
            ):
                self._pending = None
            else:
                state = None
        if state is not None:
            self._draw(state, now)

        if (
            self._sink is not None
            and not self._dimmed
            and self._dim_after is not None
            and now - self._last_change >= self._dim_after
        ):
            self._set_contrast(self._dim, now)

        due = []
        if self._pending is not None:
            # A new note that arrived during the last write: at once.
            news = _new_note(self._pending, self._last_state)
            due.append(now if news else self._next_frame_at)
        if self._sink is None:
            due.append(self._retry_at)
        elif not self._dimmed and self._dim_after is not None:
            due.append(self._last_change + self._dim_after)
        return max(min(due) - now, 0.0) if due else None

    def close(self, final: ScreenState | None = None) -> None:
        """Stop the thread, draw ``final`` (or the last state asked for) and release the
        display with ``persist`` so that frame stays on the panel."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive():
                # Stuck in a device write: drawing from here too would interleave on the bus.
                log.warning("display thread did not stop; leaving the panel as it is")
                return
        with self._cond:
            state = final if final is not None else self._pending
            self._pending = None
        now = self._monotonic()
        if self._sink is None:
            self._try_open(now)
        if state is not None and self._sink is not None:
            try:
                self._draw(state, now)
            except Exception:
                self._frame_failed()
        if self._sink is not None:
            try:
                self._sink.close(persist=True)
            except DisplayError as err:
                log.warning("%s", err)
            self._sink = None

    def __enter__(self) -> DisplayWorker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the thread's side ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                timeout = self.poll()
            except Exception:
                self._frame_failed()
                timeout = 1.0
            with self._cond:
                if self._stopping:
                    return
                if not self._woken:
                    self._cond.wait(timeout)
                self._woken = False
                if self._stopping:
                    return

    def _frame_failed(self) -> None:
        # A bug in a screen must not take the display thread (or the daemon) down; the
        # first traceback is enough to fix it, the rest would flood the journal.
        self.errors += 1
        if not self._failure_logged:
            self._failure_logged = True
            log.exception("display: drawing a frame failed; going on")
        else:
            log.debug("display: drawing a frame failed again", exc_info=True)

    def _try_open(self, now: float) -> None:
        try:
            sink = self._open_sink()
        except (DisplayError, OSError) as err:
            self._retry_at = now + self._retry_s
            if not self._outage_logged:
                self._outage_logged = True
                log.warning(
                    "no display: %s; going on without it, retrying every %g s", err, self._retry_s
                )
            return
        if self._outage_logged:
            log.info("display %s is back", sink.name)
        self._outage_logged = False
        self._sink = sink
        self._shown_bytes = None
        self._dimmed = False
        self._last_change = now
        self._set_contrast(self._bright, now)
        if self._sink is not None and self._last_state is not None:
            # Put back what the screen showed before it went away.
            self._push(self._last_state, self._last_image, now)

    def _draw(self, state: ScreenState, now: float) -> None:
        if state == self._last_state and self._shown_bytes is not None:
            self.frames_skipped += 1
            return
        image = render(state)
        self._next_frame_at = now + self._interval
        if self._shown_bytes is not None and image.tobytes() == self._shown_bytes:
            self._last_state = state
            self.frames_skipped += 1
            return
        self._last_state, self._last_image = state, image
        if self._sink is not None:
            self._push(state, image, now)

    def _push(self, state: ScreenState, image: Image.Image | None, now: float) -> None:
        sink = self._sink
        if sink is None or image is None:
            return
        try:
            if self._dimmed:
                sink.contrast(self._bright)
                self._dimmed = False
            sink.display(image)
        except (DisplayError, OSError) as err:
            self._lost(err, now)
            return
        self._shown_bytes = image.tobytes()
        self._last_change = now
        self.frames_pushed += 1
        if self._on_frame is not None:
            self._on_frame(state, now)

    def _set_contrast(self, level: int, now: float) -> None:
        if self._sink is None:
            return
        try:
            self._sink.contrast(level)
        except (DisplayError, OSError) as err:
            self._lost(err, now)
            return
        self._dimmed = level == self._dim

    def _lost(self, err: BaseException, now: float) -> None:
        self.errors += 1
        sink, self._sink = self._sink, None
        self._shown_bytes = None
        self._retry_at = now + self._retry_s
        if not self._outage_logged:
            self._outage_logged = True
            log.warning(
                "display lost: %s; going on without it, retrying every %g s", err, self._retry_s
            )
        if sink is not None:
            try:
                sink.close(persist=True)
            except (DisplayError, OSError) as close_err:
                log.debug("closing the lost display: %s", close_err)


def _new_note(state: ScreenState | None, last: ScreenState | None) -> bool:
    """Does ``state`` show a different note than ``last``? Then it is worth drawing now,
    ahead of the frame-rate cap: note-to-screen latency is what a player feels, the cents
    needle's wobble is not. Only the bus paces these frames (the worker writes one at a
    time); there are as many as notes played, and a few corrections."""
    note = getattr(state, "note_name", None)
    return note is not None and note != getattr(last, "note_name", None)
