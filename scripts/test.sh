#!/usr/bin/env bash
# Sets up .venv with the dev requirements and runs the whole test suite (browser test included).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
