#!/usr/bin/env bash
# Sets up .venv with the dev requirements and runs the whole test suite (browser test included).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's packages the tests start for real: Chromium (browser tests), PostgreSQL and Redis (the
# scale-out tests start their own servers on loopback; without root they are skipped with the reason).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's ${missing[*]} for the tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
./scripts/setup.sh requirements-dev.txt
exec .venv/bin/python -m pytest -m "slow or not slow" "$@"  # the slow tests too (pytest.ini leaves them out)
