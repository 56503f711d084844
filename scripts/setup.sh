#!/usr/bin/env bash
# Installs everything Berth needs on a fresh Debian 12 machine (as root): the Debian packages it drives, the npm
# dependencies, the build, and `berth`/`berthd`/`berth-registry` on the PATH. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# busybox-static: the bundled base image. runc/crun: OCI runtimes. conmon: per-container monitor.
# zstd: zstd layers. iproute2/nftables: bridges, namespaces, NAT and published ports. aardvark-dns: names on
# user-defined networks. util-linux: nsenter. tini: tini-static, the init of `run --init`. bzip2/xz-utils: build
# contexts and ADD archives so compressed.
packages=(busybox-static runc crun conmon zstd bzip2 xz-utils iproute2 iptables nftables aardvark-dns util-linux tini)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Docker's default seccomp profile, as Debian ships it in the docker.io sources (golang-github-docker-docker-dev,
# moby's profiles/seccomp/default.json). Only that file is taken from the package: installing it would pull in
# ~470 MiB of Go sources and upgrade systemd.
seccomp_profile=/usr/share/berth/seccomp/default.json
if [ ! -s "$seccomp_profile" ]; then
  echo "setup: fetching Docker's default seccomp profile from Debian's golang-github-docker-docker-dev"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  download() { (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root golang-github-docker-docker-dev); }
  download 2>/dev/null || { apt-get update -qq && download; }
  mkdir -p "$(dirname "$seccomp_profile")"
  dpkg-deb --fsys-tarfile "$tmp"/golang-github-docker-docker-dev_*.deb | tar -xO ./usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json > "$seccomp_profile.tmp"
  mv "$seccomp_profile.tmp" "$seccomp_profile"
  rm -rf "$tmp"
  trap - EXIT
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build

ln -sf "$PWD/dist/berth.cjs" /usr/local/bin/berth
for p in berthd berth-registry; do ln -sf "$PWD/dist/$p.js" "/usr/local/bin/$p"; done
# Compose as a docker CLI plugin (`docker compose …`), in the system plugin directory the docker CLI searches.
mkdir -p /usr/local/lib/docker/cli-plugins && ln -sf "$PWD/dist/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
# Completion for bash, where bash-completion is installed (as docker's package installs its own).
if [ -d /usr/share/bash-completion/completions ]; then node dist/berth.cjs completion bash > /usr/share/bash-completion/completions/berth; fi

# Where systemd runs, berthd is a service as dockerd is: its socket (berthd.socket) is held by systemd and starts
# berthd on the first client; berthd.service restarts it whenever it exits. Elsewhere up.sh starts it.
if [ -d /run/systemd/system ]; then
  install -m 0644 scripts/systemd/berthd.service scripts/systemd/berthd.socket /etc/systemd/system/
  systemctl daemon-reload
  systemctl enable --quiet berthd.socket
fi
