#!/usr/bin/env bash
# Installs everything Berth needs on a fresh Debian 12 machine (as root): the Debian packages it drives, the npm
# dependencies, the build, and `berth`/`berthd`/`berth-registry` on the PATH. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# busybox-static: the bundled base image. runc/crun: OCI runtimes. conmon: per-container monitor.
# attr: setfattr/getfattr for layer xattrs and overlay opaque dirs. zstd: zstd layers. iproute2/iptables: networking.
# golang-github-containers-common: /usr/share/containers/seccomp.json, the default seccomp profile (Docker's format).
# tini: tini-static, the init of `run --init`.
packages=(busybox-static runc crun conmon attr zstd iproute2 iptables golang-github-containers-common tini)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build

for p in berth berthd berth-registry; do ln -sf "$PWD/dist/$p.js" "/usr/local/bin/$p"; done
