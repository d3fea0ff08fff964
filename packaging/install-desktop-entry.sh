#!/usr/bin/env bash
# Installs Online Chat Messenger for the current user only (no root needed):
#   ~/.local/bin/OnlineChatMessenger                          the one-file app
#   ~/.local/share/applications/online-chat-messenger.desktop the app-menu entry
#   ~/.local/share/icons/hicolor/{48x48,128x128,256x256}/apps/online-chat-messenger.png
#
#   bash packaging/install-desktop-entry.sh [path/to/OnlineChatMessenger]
#   bash packaging/install-desktop-entry.sh --uninstall
#
# The app defaults to dist/OnlineChatMessenger (what scripts/build_app.sh makes).
# Respects XDG_DATA_HOME; the .desktop file gets the app's absolute path, so the
# menu entry works even when ~/.local/bin is not on the desktop session's PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
name=online-chat-messenger
bin_dir="$HOME/.local/bin"
data_dir="${XDG_DATA_HOME:-$HOME/.local/share}"
apps_dir="$data_dir/applications"
icons_dir="$data_dir/icons/hicolor"
app="$bin_dir/OnlineChatMessenger"
sizes=(48 128 256)

refresh() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$apps_dir" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$icons_dir/index.theme" ]; then
        gtk-update-icon-cache -q -f -t "$icons_dir" || true
    fi
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$app" "$apps_dir/$name.desktop"
    for size in "${sizes[@]}"; do rm -f "$icons_dir/${size}x${size}/apps/$name.png"; done
    refresh
    echo "Removed Online Chat Messenger from $bin_dir and $data_dir."
    exit 0
fi

src="${1:-$repo/dist/OnlineChatMessenger}"
if [ ! -f "$src" ]; then
    echo "No app at $src; build it first with: bash scripts/build_app.sh" >&2
    exit 1
fi

install -D -m 755 "$src" "$app"
for size in "${sizes[@]}"; do
    install -D -m 644 "$here/$name-$size.png" "$icons_dir/${size}x${size}/apps/$name.png"
done
mkdir -p "$apps_dir"
sed -e "s|^Exec=.*|Exec=\"$app\"|" -e "s|^TryExec=.*|TryExec=$app|" \
    "$here/$name.desktop" > "$apps_dir/$name.desktop.tmp"
chmod 644 "$apps_dir/$name.desktop.tmp"
mv "$apps_dir/$name.desktop.tmp" "$apps_dir/$name.desktop"
refresh

echo "Installed Online Chat Messenger for $(id -un):"
echo "  app:        $app"
echo "  menu entry: $apps_dir/$name.desktop"
echo "  icons:      $icons_dir/{48x48,128x128,256x256}/apps/$name.png"
echo "Open it from your app menu (it may take a moment to appear), or run $app."
