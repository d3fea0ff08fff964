#!/usr/bin/env bash
# Sets up (first time only) and runs every test, the GUI ones on a virtual screen
# (pytest-xvfb starts Xvfb itself) and the slow ones that build the one-file app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
