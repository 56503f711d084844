#!/usr/bin/env bash
# Installs Debian's docker.io (dockerd 20.10 + containerd 1.6 + runc) as the REFERENCE engine that the benchmarks
# in bench/ compare Berth against. It is never a dependency of Berth itself.
#
# Idempotent. It leaves no daemon running and none enabled at boot: the benchmarks start their own containerd
# and dockerd on private sockets and directories (see bench/lib.mjs) and stop them when they are done.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-docker-reference: must run as root (apt-get)" >&2
  exit 1
fi

SERVICES=(docker.service docker.socket containerd.service)
POLICY=/usr/sbin/policy-rc.d
OUR_POLICY=0

restore_policy() {
  if [ "$OUR_POLICY" = 1 ]; then rm -f "$POLICY"; fi
}
trap restore_policy EXIT

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

if installed docker.io && installed containerd && command -v dockerd >/dev/null && command -v containerd >/dev/null; then
  echo "install-docker-reference: docker.io already installed ($(dockerd --version 2>/dev/null || echo '?'))"
else
  # Keep the package scripts from starting the services (invoke-rc.d honours policy-rc.d; exit 101 = "not
  # allowed"). A machine that already has a policy-rc.d keeps its own.
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY"
    chmod 755 "$POLICY"
    OUR_POLICY=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache policy docker.io 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    apt-get update
  fi
  if ! apt-get install -y --no-install-recommends docker.io; then
    # A stale package list gives 404s: refresh once and retry.
    apt-get update
    apt-get install -y --no-install-recommends docker.io
  fi
fi

# Not enabled at boot, whatever the init system.
if command -v systemctl >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    # systemd is running: stop anything the package may have started, and disable it.
    systemctl disable --now "${SERVICES[@]}" >/dev/null 2>&1 || true
  else
    # No running systemd (a container, or another init): systemctl still edits the unit symlinks offline.
    systemctl disable "${SERVICES[@]}" >/dev/null 2>&1 || true
  fi
fi
# Whatever systemctl did, no wants-symlink of ours may remain (deb-systemd-helper creates them without systemd).
for unit in "${SERVICES[@]}"; do
  find /etc/systemd/system -name "$unit" -type l -delete 2>/dev/null || true
done
# SysV links (used only when the machine boots with sysvinit).
if command -v update-rc.d >/dev/null 2>&1; then
  for s in docker containerd; do
    if [ -e "/etc/init.d/$s" ]; then update-rc.d "$s" disable >/dev/null 2>&1 || true; fi
  done
fi

# If a package script or an earlier run left the system daemons running anyway, say so rather than kill them
# blindly: they may be someone else's.
if pgrep -x dockerd >/dev/null 2>&1 || pgrep -x containerd >/dev/null 2>&1; then
  echo "install-docker-reference: note: a dockerd/containerd process is running on this machine:" >&2
  pgrep -a -x dockerd >&2 || true
  pgrep -a -x containerd >&2 || true
fi

echo "install-docker-reference: $(dockerd --version 2>/dev/null), $(containerd --version 2>/dev/null | awk '{print $1, $3}'), $(runc --version 2>/dev/null | head -1)"
echo "install-docker-reference: no service enabled; bench/ starts its own daemons on private sockets"
