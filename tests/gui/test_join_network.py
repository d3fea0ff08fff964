"""The Join dialog's "Rooms on this network": a room hosted by a second app (its own
Backend, announced over the suite's loopback discovery) is listed and joined by
double-click; with nothing on the network the dialog says why and offers an address."""

from __future__ import annotations

from gui_helpers import pump
from test_end_to_end import double_click

from ocm_core.net.client import ChatClient
from ocm_gui.backend import Backend
from ocm_gui.dialogs import join as dialogs

ROOM = "読書会"
HOST = "さくら"


def test_join_dialog_lists_a_room_hosted_by_another_app_and_joins_it_by_double_click(root, app):
    other_app = Backend()  # the second copy of the app: its bundled server announces itself
    hold, reused = other_app.host_server(0, 0)
    host = ChatClient("127.0.0.1", hold.tcp_address[1])
    try:
        assert not reused
        host.create_room(ROOM, HOST)
        app.start.name_var.set("Bob")
        dialog = app.open_join_dialog()
        assert dialog.mode_var.get() == "network"
        pump(root, lambda: dialog.room_names() == [ROOM], timeout=5, what="the hosted room in the list")
        (row,) = dialog.tree.get_children()
        assert dialog.tree.set(row, "host") == HOST and dialog.tree.set(row, "people") == "1"
        assert dialog.tree.set(row, "server") == f"127.0.0.1:{hold.tcp_address[1]}"
        dialog.win.update_idletasks()
        x, y, width, height = dialog.tree.bbox(row, "room")
        double_click(dialog.tree, x + width // 2, y + height // 2)
        chat = pump(root, lambda: app.chats and app.chats[0], what="the joined chat window")
        assert dialog.closed and chat.room == ROOM and not chat.is_host
        pump(root, lambda: "Bob" in host.members, what="the host to see Bob")
        assert app.settings.recent_servers[0] == f"127.0.0.1:{hold.tcp_address[1]}"
    finally:
        host.leave()
        hold.stop()


def test_a_second_hosted_room_uses_the_running_server():
    backend = Backend(announce=False)
    first, reused_first = backend.host_server(0, 0)
    second, reused_second = backend.host_server(
        first.tcp_address[1], first.udp_address[1]
    )  # would clash if started anew
    assert (reused_first, reused_second) == (False, True)
    assert second.tcp_address == first.tcp_address
    first.stop()
    assert second.running  # the other room still needs it
    second.stop()
    assert not first.running


def test_an_empty_network_is_explained_and_offers_connect_by_address(root, app, monkeypatch):
    monkeypatch.setattr(dialogs, "EMPTY_NETWORK_MS", 300)
    dialog = app.open_join_dialog()
    pump(root, lambda: dialog.help_frame.winfo_ismapped(), timeout=5, what="the explanation")
    text = dialog.help_text.plain()
    for words in ("UDP 5353", "UDP 9089", "TCP 9090", "Windows", "macOS", "Linux", "different networks", "isolation"):
        assert words in text
    assert not dialog.address_entry.winfo_ismapped()
    assert not dialog.list_status_label.winfo_ismapped()  # no empty status line above the help
    dialog.by_address_button.invoke()
    root.update()
    assert dialog.mode_var.get() == "address" and dialog.address_entry.winfo_ismapped()
    assert not dialog.help_frame.winfo_ismapped() and dialog.list_status_label.winfo_ismapped()


def test_the_list_follows_rooms_and_servers_as_they_go(root, app):
    from ocm_core.net import discovery

    other_app = Backend()
    hold, _ = other_app.host_server(0, 0)
    host = ChatClient("127.0.0.1", hold.tcp_address[1])
    try:
        host.create_room(ROOM, HOST)
        dialog = app.open_join_dialog()
        pump(root, lambda: dialog.room_names() == [ROOM], timeout=5, what="the room listed")
        host.leave()  # the host closes the room; the other app's server stops with its last room
        hold.stop()
        pump(root, lambda: dialog.room_names() == [], timeout=discovery.LIST_INTERVAL + 3, what="the room gone")
        assert not hold.running
    finally:
        host.leave()
        hold.stop()
