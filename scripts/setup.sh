#!/usr/bin/env bash
# Creates .venv with the pinned packages (idempotent). Usage: scripts/setup.sh [requirements file]
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${1:-requirements.txt}"
python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
stamp=".venv/.installed-$(basename "$requirements")-$(sha256sum requirements*.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$requirements"
  touch "$stamp"
fi
