#!/usr/bin/env bash
# Sets up everything the app and its tests need on a fresh Debian-based machine:
# Debian's packages for the virtual screen (tests), CJK and colour emoji fonts, then a venv with
# the project and its test and build extras. Safe to run again; it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v Xvfb >/dev/null 2>&1 || need_apt+=(xvfb)
command -v xdotool >/dev/null 2>&1 || need_apt+=(xdotool)
command -v xwininfo >/dev/null 2>&1 || need_apt+=(x11-utils)
# scripts/screenshots.py runs the windows under a window manager, for their title bars
command -v openbox >/dev/null 2>&1 || need_apt+=(openbox)
# the discovery tests drop multicast inside a network namespace with an iptables rule
command -v iptables >/dev/null 2>&1 || need_apt+=(iptables)
# the notification tests start a private D-Bus session bus and a real notification daemon
command -v dbus-daemon >/dev/null 2>&1 || need_apt+=(dbus)
command -v dunst >/dev/null 2>&1 || need_apt+=(dunst)
# pasting a picture or files on Linux: Pillow and the app read the clipboard with xclip (X11)
# or wl-paste (Wayland)
command -v xclip >/dev/null 2>&1 || need_apt+=(xclip)
command -v wl-paste >/dev/null 2>&1 || need_apt+=(wl-clipboard)
# grep without -q: with pipefail, an early exit of grep would fail fc-list with SIGPIPE
fc-list 2>/dev/null | grep -i "noto sans cjk" >/dev/null || need_apt+=(fonts-noto-cjk)
# colour emoji for the chat view (Tk on Xft >= 2.3.5 draws them; see docs/gui.md)
fc-list 2>/dev/null | grep -i "noto color emoji" >/dev/null || need_apt+=(fonts-noto-color-emoji)
# the suite runs in ja_JP.UTF-8 too (docs/testing.md); localedef needs the locale sources
[ -f /usr/share/i18n/locales/ja_JP ] || need_apt+=(locales)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "setup: installing Debian packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! locale -a 2>/dev/null | grep -i "^ja_JP.utf-\?8$" >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "setup: generating the ja_JP.UTF-8 locale"
    $SUDO localedef -i ja_JP -f UTF-8 ja_JP.UTF-8
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.ocm-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing the project and its test and build tools into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[test,build]"
    touch "$stamp"
fi
