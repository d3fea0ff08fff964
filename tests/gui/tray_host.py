"""A system-tray manager for the tests: the X11 side of the System Tray Protocol that
KDE's, Xfce's or MATE's panel speaks, and nothing else. It owns _NET_SYSTEM_TRAY_S<n>,
announces itself (MANAGER), and docks each icon that asks (XEmbed's reparenting), printing
"docked <window id>" for the test. Runs as its own process: `python tray_host.py`."""

from __future__ import annotations

import sys

from Xlib import X, display
from Xlib.protocol import event

REQUEST_DOCK = 0
ICON_SIZE = 24


def main() -> int:
    screen_display = display.Display()
    screen = screen_display.screen()
    root = screen.root
    panel = root.create_window(0, 0, ICON_SIZE * 8, ICON_SIZE, 0, screen.root_depth, event_mask=X.StructureNotifyMask)
    panel.map()
    selection = screen_display.intern_atom(f"_NET_SYSTEM_TRAY_S{screen_display.get_default_screen()}")
    opcode = screen_display.intern_atom("_NET_SYSTEM_TRAY_OPCODE")
    panel.set_selection_owner(selection, X.CurrentTime)
    announce = event.ClientMessage(
        window=root,
        client_type=screen_display.intern_atom("MANAGER"),
        data=(32, [X.CurrentTime, selection, panel.id, 0, 0]),
    )
    root.send_event(announce, event_mask=X.StructureNotifyMask)
    screen_display.flush()
    print("ready", flush=True)
    docked = 0
    while True:
        message = screen_display.next_event()
        if message.type != X.ClientMessage or message.client_type != opcode:
            continue
        _format, data = message.data
        if data[1] != REQUEST_DOCK:
            continue
        icon = screen_display.create_resource_object("window", data[2])
        icon.reparent(panel, docked * ICON_SIZE, 0)
        icon.configure(width=ICON_SIZE, height=ICON_SIZE)
        icon.map()
        screen_display.flush()
        docked += 1
        print(f"docked {data[2]}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
