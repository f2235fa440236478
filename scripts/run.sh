#!/usr/bin/env bash
# Sets up .venv and starts the lab at http://127.0.0.1:8501 (SQLite, local worker, demo assets).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh requirements.txt
exec .venv/bin/streamlit run app.py "$@"
