#!/usr/bin/env bash
# Sets up (first time only) and opens the Online Chat Messenger app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m ocm_gui "$@"
