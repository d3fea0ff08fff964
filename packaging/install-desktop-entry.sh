#!/usr/bin/env bash
# Installs Online Chat Messenger for the current user only (no root needed):
#   ~/.local/bin/OnlineChatMessenger                          the one-file app
#   ~/.local/share/applications/online-chat-messenger.desktop the app-menu entry, which also
#                                                             opens ocm: links (x-scheme-handler/ocm)
#   ~/.local/share/icons/hicolor/{48x48,128x128,256x256}/apps/online-chat-messenger.png
# and makes the entry the default for ocm: links (xdg-mime, or ~/.config/mimeapps.list).
#
#   bash packaging/install-desktop-entry.sh [path/to/OnlineChatMessenger]
#   bash packaging/install-desktop-entry.sh --uninstall
#
# The app defaults to dist/OnlineChatMessenger (what scripts/build_app.sh makes).
# Respects XDG_DATA_HOME and XDG_CONFIG_HOME; the .desktop file gets the app's absolute path,
# so the menu entry works even when ~/.local/bin is not on the desktop session's PATH.
# --uninstall also removes what the app itself may have written (ocm_gui/autostart.py): the
# start-at-login entry, its own ocm: link entry, and the ocm: lines of mimeapps.list.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
name=online-chat-messenger
bin_dir="$HOME/.local/bin"
data_dir="${XDG_DATA_HOME:-$HOME/.local/share}"
config_dir="${XDG_CONFIG_HOME:-$HOME/.config}"
apps_dir="$data_dir/applications"
icons_dir="$data_dir/icons/hicolor"
app="$bin_dir/OnlineChatMessenger"
sizes=(48 128 256)
scheme=x-scheme-handler/ocm
mimeapps="$config_dir/mimeapps.list"
autostart="$config_dir/autostart/$name.desktop"
link_entry="$apps_dir/$name-link.desktop"

refresh() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$apps_dir" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$icons_dir/index.theme" ]; then
        gtk-update-icon-cache -q -f -t "$icons_dir" || true
    fi
}

# An argument of Exec, as the Desktop Entry spec wants it: in double quotes with " ` $ and \
# escaped, % doubled, then every backslash doubled again (the escape of string values).
exec_arg() {
    local s=$1
    s=${s//\\/\\\\\\\\}
    s=${s//\"/\\\\\"}
    s=${s//\`/\\\\\`}
    s=${s//\$/\\\\\$}
    s=${s//%/%%}
    printf '"%s"' "$s"
}

# Replaces a file (followed if it is a symbolic link) by $1.tmp, unless they are the same;
# a plain file changed to nothing but group headers and blank lines is removed.
replace_file() {
    local file=$1 target
    target="$(readlink -f "$file")"
    if cmp -s "$file.tmp" "$target" 2>/dev/null; then
        rm -f "$file.tmp"
    elif [ ! -L "$file" ] && ! grep -qv -e '^[[:space:]]*$' -e '^[[:space:]]*\[.*\][[:space:]]*$' "$file.tmp"; then
        rm -f "$file.tmp" "$file"
    else
        chmod --reference="$target" "$file.tmp" 2>/dev/null || true
        mv "$file.tmp" "$target"
    fi
}

# Makes $1 the default for ocm: links in mimeapps.list, keeping every other line.
set_default_handler() {
    mkdir -p "$config_dir"
    [ -f "$mimeapps" ] || : >"$mimeapps"
    awk -v key="$scheme" -v id="$1" '
        function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
        function flush() { while (blanks > 0) { print ""; blanks-- } }
        /^[ \t]*$/ { blanks++; next }
        /^[ \t]*\[.*\][ \t]*$/ {
            if (indefault && !done) { print key "=" id; done = 1 }
            flush(); print
            indefault = (trim($0) == "[Default Applications]"); if (indefault) found = 1
            next
        }
        indefault && index($0, "=") && trim(substr($0, 1, index($0, "=") - 1)) == key {
            if (!done) { flush(); print key "=" id; done = 1 }
            next
        }
        { flush(); print }
        END {
            if (!done) {
                if (!found) { if (NR) print ""; print "[Default Applications]" }
                print key "=" id
            }
            flush()
        }
    ' "$mimeapps" >"$mimeapps.tmp"
    replace_file "$mimeapps"
}

# Takes this app's entries out of the ocm: lines of mimeapps.list $1, keeping every other line.
remove_handler() {
    local file=$1
    [ -f "$file" ] || return 0
    awk -v key="$scheme" -v ids="$name.desktop $name-link.desktop" '
        function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
        BEGIN { n = split(ids, list, " "); for (i = 1; i <= n; i++) ours[list[i]] = 1 }
        /^[ \t]*\[.*\][ \t]*$/ { section = trim($0); print; next }
        (section == "[Default Applications]" || section == "[Added Associations]") && index($0, "=") \
                && trim(substr($0, 1, index($0, "=") - 1)) == key {
            value = substr($0, index($0, "=") + 1)
            n = split(value, entries, ";"); kept = ""; count = 0; changed = 0
            for (i = 1; i <= n; i++) {
                entry = trim(entries[i])
                if (entry == "") continue
                if (entry in ours) { changed = 1; continue }
                kept = kept (count ? ";" : "") entry; count++
            }
            if (!changed) { print; next }
            if (count) print key "=" kept (value ~ /;[ \t]*$/ ? ";" : "")
            next
        }
        { print }
    ' "$file" >"$file.tmp"
    replace_file "$file"
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$app" "$apps_dir/$name.desktop" "$link_entry" "$autostart"
    for size in "${sizes[@]}"; do rm -f "$icons_dir/${size}x${size}/apps/$name.png"; done
    remove_handler "$mimeapps"
    remove_handler "$apps_dir/mimeapps.list" # where older xdg-mime versions wrote it
    refresh
    echo "Removed Online Chat Messenger from $bin_dir, $data_dir and $config_dir."
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
exec_line="Exec=$(exec_arg "$app") %u"
try_exec_line="TryExec=${app//\\/\\\\}"
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        Exec=*) printf '%s\n' "$exec_line" ;;
        TryExec=*) printf '%s\n' "$try_exec_line" ;;
        *) printf '%s\n' "$line" ;;
    esac
done <"$here/$name.desktop" >"$apps_dir/$name.desktop.tmp"
chmod 644 "$apps_dir/$name.desktop.tmp"
mv "$apps_dir/$name.desktop.tmp" "$apps_dir/$name.desktop"
refresh
if ! { command -v xdg-mime >/dev/null 2>&1 && xdg-mime default "$name.desktop" "$scheme" 2>/dev/null; }; then
    set_default_handler "$name.desktop"
fi

echo "Installed Online Chat Messenger for $(id -un):"
echo "  app:        $app"
echo "  menu entry: $apps_dir/$name.desktop (also opens ocm: links)"
echo "  icons:      $icons_dir/{48x48,128x128,256x256}/apps/$name.png"
echo "Open it from your app menu (it may take a moment to appear), or run $app."
