#!/usr/bin/env bash
# Sets up (first time only) and runs every test, the GUI ones on a virtual screen
# (pytest-xvfb starts Xvfb itself) and the slow ones that build the one-file app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The tree stays formatted and lint-clean (ruff; its rules are in pyproject.toml).
.venv/bin/ruff format --check --quiet .
.venv/bin/ruff check --quiet .
exec .venv/bin/python -m pytest "$@"
