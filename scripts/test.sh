#!/usr/bin/env bash
# Sets Berth up and runs the whole test suite (as root: the tests use the real kernel, mounts and daemons).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The reference engine for the compatibility tests (test/compat): never a Berth dependency, started privately.
bash scripts/install-docker-reference.sh
npm run --silent typecheck
node scripts/check-imports.mjs
node scripts/run-tests.mjs
