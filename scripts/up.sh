#!/usr/bin/env bash
# Sets Berth up, starts berthd in the background if it is not running, and runs a first job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
sock=/run/berth/berth.sock
if [ -d /run/systemd/system ]; then
  systemctl start berthd.socket berthd.service # installed and enabled by setup.sh
elif ! berth version >/dev/null 2>&1; then
  mkdir -p /var/log/berth
  nohup berthd >>/var/log/berth/berthd.log 2>&1 &
  for _ in $(seq 1 100); do [ -S "$sock" ] && berth version >/dev/null 2>&1 && break; sleep 0.1; done
fi
berth version
berth images
berth run --rm busybox echo hello
