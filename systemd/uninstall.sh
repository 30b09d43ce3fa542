#!/usr/bin/env bash
# Remove the FretCoach service and program; keeps /var/lib/fretcoach (your sessions) and /etc/fretcoach.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo "run as root: sudo make uninstall" >&2
    exit 1
fi
systemctl disable --now fretcoach.service 2>/dev/null || true
rm -f /etc/systemd/system/fretcoach.service
systemctl daemon-reload
rm -rf /opt/fretcoach
echo "removed; your sessions remain in /var/lib/fretcoach and settings in /etc/fretcoach"
