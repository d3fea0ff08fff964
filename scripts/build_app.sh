#!/usr/bin/env bash
# Builds the one file a person double-clicks: dist/OnlineChatMessenger (Linux; the
# same spec gives dist/OnlineChatMessenger.exe on Windows, dist/OnlineChatMessenger.app
# on macOS, see docs/packaging.md). Sets up .venv first (scripts/setup.sh), checks the
# result with its own --self-test, and prints its size and time to the start window.
#
#   bash scripts/build_app.sh            build, self-test, measure
#   SKIP_MEASURE=1 bash scripts/build_app.sh   build and self-test only
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

.venv/bin/pyinstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller build.spec

exe=dist/OnlineChatMessenger
echo "built: $exe"
"$exe" --version
"$exe" --self-test
if [ -z "${SKIP_MEASURE:-}" ]; then
    .venv/bin/python scripts/measure_app.py "$exe" --runs 3
fi
