#!/usr/bin/env bash
# Install FretCoach Portable as a systemd service on Raspberry Pi OS (Bookworm, 64-bit).
# Run as root from the repository: `sudo make install`. Idempotent.

# The env file holds the Hub token and API keys. It is root's and 0600 after every run,
# whether this run creates it or finds one (an older install, a copy, an editor's mode).
write_env_file() {
    local file=$1
    if [ ! -f "$file" ]; then
        install -m 0600 -o root -g root /dev/null "$file"
        cat > "$file" <<'ENV'
# Secrets for the fretcoach service (root only, 0600).
# FRETCOACH_HUB_URL=https://hub.example.com
# FRETCOACH_HUB_TOKEN=
# FRETCOACH_USER_ID=
# OPENAI_API_KEY=
# OPIK_API_KEY=            (Opik cloud; with OPIK_WORKSPACE=)
# OPIK_URL_OVERRIDE=       (a self-hosted Opik, e.g. http://opik.local:5173/api/)
# OPIK_PROJECT_NAME=FretCoach
ENV
    fi
    chown root:root "$file"
    chmod 0600 "$file"
}
# Sourced (the tests do, to rehearse write_env_file): define the function, install nothing.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi

set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=/opt/fretcoach
if [ "$(id -u)" -ne 0 ]; then
    echo "run as root: sudo make install" >&2
    exit 1
fi
# libsndfile1: how fretcoach reads WAV files. alsa-utils (aplay) and espeak-ng: spoken tips (coach.speech; off unless configured).
# liblgpio (for the Pi 5's GPIO backend, pip's lgpio below) comes from Raspberry Pi OS's
# archive, not Debian's. (apt's python3-lgpio would not be seen by the venv.)
lgpio=()
if apt-cache show liblgpio-dev >/dev/null 2>&1; then lgpio=(liblgpio-dev); fi
./.ci/apt-install build-essential python3-dev python3-venv portaudio19-dev libsndfile1 libasound2-dev \
    i2c-tools alsa-utils espeak-ng "${lgpio[@]}"
getent group i2c >/dev/null || groupadd --system i2c
getent group gpio >/dev/null || groupadd --system gpio
getent group spi >/dev/null || groupadd --system spi
id fretcoach >/dev/null 2>&1 || useradd --system --home-dir /var/lib/fretcoach --shell /usr/sbin/nologin fretcoach
usermod -a -G audio,i2c,gpio,spi fretcoach
mkdir -p "$PREFIX" /etc/fretcoach
rm -rf "$PREFIX/src" && mkdir -p "$PREFIX/src"
tar --exclude=./.venv --exclude=./.git --exclude=./out --exclude=./.cache -cf - . | tar -xf - -C "$PREFIX/src"
cp "$PREFIX/src/README.md" "$PREFIX/README.md"
python3 -m venv "$PREFIX/.venv"
"$PREFIX/.venv/bin/pip" install -q --upgrade pip setuptools wheel
"$PREFIX/.venv/bin/pip" install -q "$PREFIX/src"
# The buttons' GPIO backend: rpi-lgpio gives gpiozero the RPi.GPIO API on top of lgpio
# (which it pulls in), on every Pi including the 5; the unit selects it
# (GPIOZERO_PIN_FACTORY=rpigpio) and `fretcoach status` shows it.
"$PREFIX/.venv/bin/pip" install -q rpi-lgpio spidev 2>/dev/null \
    || echo "note: rpi-lgpio not installed (the buttons and an SPI OLED need them on a Pi; without them the device runs without buttons)"
[ -f /etc/fretcoach/config.toml ] || cat > /etc/fretcoach/config.toml <<'TOML'
# FretCoach Portable configuration — see the README for every setting.
[audio]
device = ""        # a substring of your interface's name, e.g. "Scarlett"
channel = 1        # a Scarlett Solo's guitar input is 2

[practice]
scale = "A minor pentatonic"
bpm = 0            # 0 = free tempo

[display]
kind = "oled"
driver = "ssd1306"  # or "sh1106"

[buttons]
kind = "gpio"

[coach]
speech = "off"     # "auto": speak tips (OpenAI TTS with a key, else espeak-ng)
TOML
write_env_file /etc/fretcoach/env
install -m 0644 systemd/fretcoach.service /etc/systemd/system/fretcoach.service
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable fretcoach.service
    # restart, not just start: a re-install (an upgrade) must run the new code
    systemctl restart fretcoach.service
else
    # Building an image (a chroot, pi-gen): enable it for the first boot; nothing to start.
    systemctl enable fretcoach.service
    echo "systemd is not running here: fretcoach is enabled and starts at the next boot"
fi
if ! ls /dev/i2c-* >/dev/null 2>&1; then
    echo "I2C is off: enable it with 'sudo raspi-config nonint do_i2c 0' (or raspi-config → Interface Options → I2C), then reboot"
fi
echo "installed: journalctl -u fretcoach -f   shows the logs"
