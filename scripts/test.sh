#!/usr/bin/env bash
# Sets up .venv with the dev requirements and runs the whole test suite (browser test included).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
./scripts/setup.sh requirements-dev.txt
exec .venv/bin/python -m pytest -m "slow or not slow" "$@"  # the slow tests too (pytest.ini leaves them out)
