"""Two people in one process: host through the Host dialog, join through the Join dialog.

Real ChatServer and ChatClient on 127.0.0.1; every step goes through the widgets.
"""

from __future__ import annotations

from gui_helpers import pump

from ocm_gui.dialogs.host import HostDialog
from ocm_gui.dialogs.join import JoinDialog

ROOM = "お茶会"
HOST = "アリス"
MEMBER = "Bob"


def type_and_press_enter(root, chat, text):
    chat.input.focus_force()
    chat.input.insert("end", text)
    root.update()
    chat.input.event_generate("<Return>")
    root.update()


def double_click(widget, x, y):
    """Two real button presses close together, which Tk turns into <Double-1>."""
    for stamp in (1000, 1100):  # milliseconds apart, well within the double-click time
        widget.event_generate("<ButtonPress-1>", x=x, y=y, time=stamp)
        widget.event_generate("<ButtonRelease-1>", x=x, y=y, time=stamp + 20)


def test_host_and_join_chat_both_ways_then_host_closes_the_room(root, app):
    # --- host a room through the start window and the Host dialog
    app.start.name_var.set(HOST)
    app.start.host_button.invoke()
    host_dialog = app.dialogs[HostDialog]
    assert host_dialog.name_var.get() == HOST  # carried over from the start window
    host_dialog.room_var.set(ROOM)
    host_dialog.tcp_var.set("0")
    host_dialog.udp_var.set("0")
    host_dialog.ok_button.invoke()
    host_chat = pump(root, lambda: app.chats and app.chats[0], what="the host's chat window")
    assert host_dialog.closed
    assert host_chat.is_host and host_chat.server is not None
    port = host_chat.server.tcp_address[1]
    assert host_chat.share_address.endswith(f":{port}")
    assert host_chat.member_labels() == [f"★ {HOST} (host, you)"]
    assert host_chat.win.title() == f"{ROOM} — Online Chat Messenger"

    # --- a second person joins through the Join dialog, picking the room from the list
    app.start.name_var.set(MEMBER)
    app.start.join_button.invoke()
    join_dialog = app.dialogs[JoinDialog]
    assert join_dialog.name_var.get() == MEMBER
    join_dialog.address_var.set(f"127.0.0.1:{port}")
    join_dialog.refresh_button.invoke()
    pump(root, lambda: join_dialog.room_names() == [ROOM], what="the room list")
    assert join_dialog.tree.set(ROOM, "host") == HOST
    join_dialog.win.update_idletasks()
    x, y, width, height = join_dialog.tree.bbox(ROOM, "room")
    double_click(join_dialog.tree, x + width // 2, y + height // 2)
    member_chat = pump(root, lambda: len(app.chats) == 2 and app.chats[1], what="the member's chat window")
    assert join_dialog.closed
    assert member_chat.room == ROOM and member_chat.username == MEMBER and not member_chat.is_host
    assert member_chat.share_address is None
    assert app.settings.server == f"127.0.0.1:{port}"

    # --- both member lists show both people, host marked
    pump(root, lambda: host_chat.member_labels() == [f"★ {HOST} (host, you)", MEMBER], what="host's members")
    pump(root, lambda: member_chat.member_labels() == [f"★ {HOST} (host)", f"{MEMBER} (you)"], what="member's members")
    pump(root, lambda: f"{MEMBER} joined the room" in host_chat.transcript(), what="the join notice")

    # --- both windows show the bundled server's identity, the same, for the two to compare aloud
    for chat in (host_chat, member_chat):
        assert host_chat.server.fingerprint in chat.fingerprint_label.cget("text")

    # --- messages both ways, shown in both windows; own ones confirmed
    app.show_room(host_chat)  # the host picks the room in the sidebar
    type_and_press_enter(root, host_chat, "ようこそ、ボブさん！")
    pump(root, lambda: "ようこそ、ボブさん！" in member_chat.transcript(), what="host's message at member")
    pump(root, lambda: "ようこそ、ボブさん！  ✓" in host_chat.transcript(), what="host's message confirmed")
    line = [ln for ln in member_chat.transcript().splitlines() if "ようこそ" in ln][0]
    assert f"{HOST}  ようこそ、ボブさん！" in line

    member_chat.input.insert("1.0", "Thanks!\nGlad to be here.")
    member_chat.send_button.invoke()
    pump(root, lambda: "Glad to be here." in host_chat.transcript(), what="member's message at host")
    pump(root, lambda: "Glad to be here.  ✓" in member_chat.transcript(), what="member's message confirmed")
    assert f"{MEMBER}  Thanks!\nGlad to be here." in host_chat.transcript()
    assert host_chat.transcript().count("ようこそ") == 1  # own message shown once, not echoed

    # --- the host closes the room: the member is told, input disabled, Back to start offered
    host_chat.leave_button.invoke()  # someone else is here: asked first
    assert not host_chat.destroyed and "1 other person is here" in str(host_chat.confirm.label.cget("text"))
    host_chat.confirm.yes_button.invoke()
    assert host_chat.destroyed and app.chats == [member_chat]
    pump(root, lambda: member_chat.room_closed, what="the member to see the room closed")
    root.update()
    assert not member_chat.input_enabled()
    assert member_chat.members_label.cget("text") == "People"
    assert member_chat.people.ended_text() == "The room is closed" and member_chat.members == ()
    assert "closed" in member_chat.banner_label.cget("text").lower()
    assert member_chat.back_button.winfo_ismapped()
    member_chat.back_button.invoke()
    assert app.chats == []
    assert root.state() == "normal"
