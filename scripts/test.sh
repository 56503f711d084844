#!/usr/bin/env bash
# Sets Berth up and runs the whole test suite (as root: the tests use the real kernel, mounts and daemons).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The reference engine for the compatibility tests (test/compat): never a Berth dependency, started privately.
bash scripts/install-docker-reference.sh
# The Docker SDK for Python, a second real API client for test/compat (Debian's, unless one is installed already).
if ! python3 -c 'import docker' 2>/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-docker >/dev/null
fi
npm run --silent typecheck
node scripts/check-imports.mjs
node scripts/run-tests.mjs
