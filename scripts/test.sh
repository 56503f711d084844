#!/usr/bin/env bash
# Sets Berth up and runs the whole test suite (as root: the tests use the real kernel, mounts and daemons).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The reference engine for the compatibility tests (test/compat): never a Berth dependency, started privately.
bash scripts/install-docker-reference.sh
# Test-only tools: getfattr (attr) checks xattrs independently of Berth's own calls; the Docker SDK for Python
# (Debian's, unless one is installed already) and docker-compose are more real API clients for test/compat;
# distribution's registry (docker-registry), skopeo and htpasswd (apache2-utils) for the registry tests.
tools=()
for p in attr docker-compose docker-registry skopeo apache2-utils; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || tools+=("$p"); done
python3 -c 'import docker' 2>/dev/null || tools+=(python3-docker)
if [ ${#tools[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tools[@]}" >/dev/null
fi
# The tests run their own registries on free loopback ports: the package's service (port 5000) must not run.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
# Typecheck, import rules, generated API types in sync, and the lint (no promise left floating).
npm run --silent check
node scripts/run-tests.mjs
