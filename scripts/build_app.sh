#!/usr/bin/env bash
# Builds the one file a person double-clicks: dist/OnlineChatMessenger on Linux (the
# same spec gives dist/OnlineChatMessenger.app on macOS; on Windows run the pyinstaller
# line below in PowerShell, see docs/packaging.md). Sets up .venv first
# (scripts/setup.sh), checks the result with its own --self-test, then prints its
# size, glibc floor and time to the start window (scripts/measure_app.py).
#
#   bash scripts/build_app.sh                   build, self-test, measure
#   SKIP_MEASURE=1 bash scripts/build_app.sh    build and self-test only
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

.venv/bin/pyinstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller build.spec

if [ "$(uname -s)" = "Darwin" ]; then
    built=dist/OnlineChatMessenger.app
    exe=$built/Contents/MacOS/OnlineChatMessenger
else
    built=dist/OnlineChatMessenger
    exe=$built
fi
echo "built: $built"
"$exe" --version
"$exe" --self-test
if [ -z "${SKIP_MEASURE:-}" ] && [ "$(uname -s)" = "Linux" ]; then
    .venv/bin/python scripts/measure_app.py "$exe" --runs 3
fi
