#!/usr/bin/env bash
# Creates .venv with the pinned packages (idempotent). Usage: scripts/setup.sh [requirements file]
# A requirements file that includes requirements-llm.txt also gets requirements-llm-nodeps.txt,
# installed with --no-deps (see that file for why).
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${1:-requirements.txt}"
python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
stamp=".venv/.installed-$(basename "$requirements")-$(sha256sum requirements*.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$requirements"
  if [ "$requirements" = requirements-llm.txt ] || grep -q -- "-r requirements-llm.txt" "$requirements"; then
    .venv/bin/pip install -q --no-deps -r requirements-llm-nodeps.txt
  fi
  touch "$stamp"
fi
