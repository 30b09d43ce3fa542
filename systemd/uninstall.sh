#!/usr/bin/env bash
# Remove the FretCoach service and program; keeps /var/lib/fretcoach (your sessions) and /etc/fretcoach.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo "run as root: sudo make uninstall" >&2
    exit 1
fi
if [ -d /run/systemd/system ]; then
    systemctl disable --now fretcoach.service 2>/dev/null || true
else
    systemctl disable fretcoach.service 2>/dev/null || true  # an image being built: no stop
fi
rm -f /etc/systemd/system/fretcoach.service /etc/systemd/system/multi-user.target.wants/fretcoach.service
[ -d /run/systemd/system ] && systemctl daemon-reload
rm -rf /opt/fretcoach
echo "removed; your sessions remain in /var/lib/fretcoach and settings in /etc/fretcoach"
