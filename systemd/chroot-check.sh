#!/usr/bin/env bash
# Rehearse `make install` / `make uninstall` on a fresh Debian Bookworm in a chroot — the
# nearest thing to a new Raspberry Pi OS card this side of real hardware. As root:
#
#     sudo make install-check            # or: sudo systemd/chroot-check.sh [DIR]
#
# It debootstraps Bookworm (with systemd, as Pi OS has) into DIR (default
# /var/tmp/fretcoach-chroot; made once, then reused: delete it for a fresh one), copies
# this checkout in, runs
# `make install` twice (it must be idempotent), checks the user and its groups, the
# config and 0600 env file, the enabled unit (`systemd-analyze verify`), plays the demo
# through the installed daemon as the `fretcoach` user, then `make uninstall`.
# systemd is not running in a chroot, so the service is enabled, not started.
#
# With --arch arm64 (`sudo make install-check-arm64`) the chroot is the Pi's own 64-bit
# userland, run through qemu-user: aubio and pyaudio are compiled from source there as on
# a Pi, and the check adds that the installed venv's Python is aarch64 and imports them.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST_ARCH=$(dpkg --print-architecture)
ARCH=$HOST_ARCH
if [ "${1:-}" = "--arch" ]; then
    ARCH=${2:?--arch needs an architecture, e.g. arm64}
    shift 2
fi
if [ "$ARCH" = "$HOST_ARCH" ]; then
    ROOT=${1:-/var/tmp/fretcoach-chroot}
else
    ROOT=${1:-/var/tmp/fretcoach-chroot-$ARCH}
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "run as root: sudo make install-check" >&2
    exit 1
fi
command -v debootstrap >/dev/null || ./.ci/apt-install debootstrap
if [ "$ARCH" != "$HOST_ARCH" ]; then
    # qemu-user-static registers itself with the kernel's binfmt_misc (flag F: the
    # emulator is loaded now, so it works inside the chroot without being copied in).
    ./.ci/apt-install qemu-user-static binfmt-support
    if ! grep -qs '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-*; then
        echo "binfmt_misc has no qemu-user entry: mount it (mount -t binfmt_misc none /proc/sys/fs/binfmt_misc) and run update-binfmts --enable" >&2
        exit 1
    fi
fi
if [ ! -x "$ROOT/usr/bin/python3" ]; then
    debootstrap --arch="$ARCH" --variant=minbase --include=systemd,make,python3,ca-certificates \
        bookworm "$ROOT" http://deb.debian.org/debian
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# The host's CA bundle: a proxy's certificate, if there is one, is trusted there too.
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
# Unmount only what this run mounted; a failed unmount is said, never hidden (a /dev
# left bound inside the chroot must not meet a later `rm -rf` of it).
mounted=()
cleanup() {
    local point
    for point in "${mounted[@]}"; do
        umount "$point" || echo "warning: could not unmount $point: unmount it before deleting $ROOT" >&2
    done
}
trap cleanup EXIT
if ! mountpoint -q "$ROOT/proc"; then mount -t proc proc "$ROOT/proc" && mounted=("$ROOT/proc" "${mounted[@]}"); fi
if ! mountpoint -q "$ROOT/dev"; then mount --bind /dev "$ROOT/dev" && mounted=("$ROOT/dev" "${mounted[@]}"); fi
rm -rf "$ROOT/root/fretcoach" && mkdir -p "$ROOT/root/fretcoach"
tar --exclude=./.venv --exclude=./.git --exclude=./out -cf - . | tar -xf - -C "$ROOT/root/fretcoach"

chroot "$ROOT" /usr/bin/env PIP_CERT=/etc/ssl/certs/ca-certificates.crt /bin/bash -euo pipefail -c '
cd /root/fretcoach
make install >/tmp/install-1.log 2>&1 || { tail -30 /tmp/install-1.log; exit 1; }
make install >/tmp/install-2.log 2>&1 || { tail -30 /tmp/install-2.log; exit 1; }
echo "ok: make install, twice"
id -nG fretcoach | tr " " "\n" | grep -qx audio
id -nG fretcoach | tr " " "\n" | grep -qx i2c
id -nG fretcoach | tr " " "\n" | grep -qx gpio
id -nG fretcoach | tr " " "\n" | grep -qx spi
echo "ok: user fretcoach in audio, i2c, gpio, spi"
[ "$(stat -c %a:%U /etc/fretcoach/env)" = "600:root" ]
/opt/fretcoach/.venv/bin/fretcoach status >/dev/null
echo "ok: /etc/fretcoach/env is root 0600; the config loads"
[ -L /etc/systemd/system/multi-user.target.wants/fretcoach.service ]
systemd-analyze verify /etc/systemd/system/fretcoach.service
echo "ok: the unit is enabled and verifies"
runuser -u fretcoach -- env STATE_DIRECTORY=/tmp/fretcoach-check \
    /opt/fretcoach/.venv/bin/fretcoach run --source demo --fast --display none --buttons none \
    | grep -q "completed"
echo "ok: the installed daemon plays the demo as user fretcoach"
machine=$(/opt/fretcoach/.venv/bin/python -c "import platform; print(platform.machine())")
/opt/fretcoach/.venv/bin/python -c "import aubio, pyaudio, luma.oled, gpiozero, numpy, soundfile, soxr"
echo "ok: the installed venv runs on $machine with aubio, pyaudio, luma.oled, gpiozero, soundfile and soxr"
make uninstall >/dev/null
test ! -e /opt/fretcoach
test ! -e /etc/systemd/system/fretcoach.service
test ! -e /etc/systemd/system/multi-user.target.wants/fretcoach.service
test -f /etc/fretcoach/config.toml
echo "ok: make uninstall removed the service and kept the settings"
'
