"""The Host and Join dialogs: validation and server errors stay in the dialog, as sentences."""

from __future__ import annotations

import socket
import threading
import tkinter as tk
import tkinter.font as tkfont

import pytest
from gui_helpers import FakeBackend, free_port, pump

from ocm_core import errors
from ocm_core.errors import LocalProtocolError, RemoteProtocolError
from ocm_core.net.client import ChatClient
from ocm_core.wire import RoomInfo
from ocm_gui import theme
from ocm_gui.app import App
from ocm_gui.text.linebreak import NO_START

LONG_NAME = "名" * 86  # 258 bytes in UTF-8, 86 characters


@pytest.fixture
def hosted(server):  # `server`: tests/conftest.py's ChatServer on 127.0.0.1, free ports
    """A room 'lobby' hosted by 'Alice', and a locked room 'secret' hosted by 'Carol'."""
    port = server.tcp_address[1]
    clients = []
    for room, name, password in (("lobby", "Alice", None), ("secret", "Carol", "open sesame")):
        client = ChatClient("127.0.0.1", port)
        client.create_room(room, name, password)
        clients.append(client)
    yield port
    for client in clients:
        client.leave()


def fill(dialog, **values):
    for key, value in values.items():
        getattr(dialog, f"{key}_var").set(value)


def submit(root, dialog, until=None):
    dialog.ok_button.invoke()
    return pump(
        root, until or (lambda: not dialog.busy and (dialog.error_text() or dialog.closed)), what="the dialog to answer"
    )


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("name", "", "Type a name."),
        ("name", "   ", "Type a name."),
        ("name", LONG_NAME, "The name is too long; remove 1 character."),  # 258 bytes: one 3-byte character
        ("room", "", "Type a room name."),
        ("room", LONG_NAME, "The room name is too long; remove 1 character."),
        ("tcp", "90x", "The TCP port must be a number from 1 to 65535, for example 9090."),
        ("udp", "70000", "The UDP port must be a number from 1 to 65535, for example 9091."),
    ],
)
def test_host_dialog_validation(root, app, field, value, expected):
    dialog = app.open_host_dialog()
    fill(dialog, name="Alice", room="lobby", tcp="0", udp="0")
    fill(dialog, **{field: value})
    dialog.ok_button.invoke()
    root.update()
    assert dialog.error_text() == expected
    assert not dialog.closed and not dialog.busy
    assert app.chats == []
    focused = dialog.win.focus_get()
    assert focused is getattr(dialog, f"{field}_entry")
    assert getattr(dialog, f"{field}_var").get() == value  # what was typed stays


def test_name_of_exactly_255_bytes_is_accepted(root, app):
    dialog = app.open_host_dialog()
    fill(dialog, name="名" * 85, room="部屋", tcp="0", udp="0")  # 255 bytes
    submit(root, dialog, until=lambda: dialog.closed)
    assert app.chats[0].username == "名" * 85


def test_a_password_of_spaces_locks_the_room_as_typed(root, app):
    dialog = app.open_host_dialog()
    fill(dialog, name="Alice", room="quiet", tcp="0", udp="0")
    dialog.password_var.set("   ")
    submit(root, dialog, until=lambda: dialog.closed)
    joiner = ChatClient("127.0.0.1", app.chats[0].server.tcp_address[1])
    assert [(room.name, room.locked) for room in joiner.list_rooms()] == [("quiet", True)]
    with pytest.raises(errors.PasswordRequired):
        joiner.join_room("quiet", "bob")
    with pytest.raises(errors.WrongPassword):
        joiner.join_room("quiet", "bob", " ")
    joiner.join_room("quiet", "bob", "   ")
    joiner.leave()


def test_host_dialog_port_taken_offers_the_next_free_ports(root, app):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("0.0.0.0", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        dialog = app.open_host_dialog()
        fill(dialog, name="Alice", room="lobby", tcp=str(taken), udp=str(free_port(socket.SOCK_DGRAM)))
        submit(root, dialog)
        assert f"TCP port {taken} is already in use" in dialog.error_text()
        assert "The next free ports are TCP" in dialog.error_text()
        assert not dialog.closed and app.chats == []
        assert dialog.win.focus_get() is dialog.tcp_entry and dialog.advanced.winfo_ismapped()
        saved = (app.settings.tcp_port, app.settings.udp_port)
        dialog.use_ports_button.invoke()
        new_tcp = int(dialog.tcp_var.get())
        assert new_tcp != taken
        assert dialog.error_text() == ""
        submit(root, dialog, until=lambda: dialog.closed)
    chat = app.chats[0]
    assert chat.server.tcp_address[1] == new_tcp
    assert chat.share_address.endswith(f":{new_tcp}")
    assert (app.settings.tcp_port, app.settings.udp_port) == saved  # a fallback is not the new default
    # a second room from the same app uses the running server instead of clashing with it
    second = app.open_host_dialog()
    fill(second, name="Alice", room="second room", tcp=str(new_tcp), udp=dialog.udp_var.get())
    submit(root, second, until=lambda: second.closed)
    assert len(app.chats) == 2 and app.chats[1].server.tcp_address == chat.server.tcp_address
    app.chats[0].leave_button.invoke()
    assert app.chats[0].server.running  # the other hosted room still uses it


def test_hosting_trusts_its_own_server_even_if_another_key_was_remembered_at_that_port(root, app):
    from ocm_core.crypto.identity import KnownServers

    tcp = free_port(socket.SOCK_STREAM)
    KnownServers().check(f"127.0.0.1:{tcp}", "AAAA-BBBB-CCCC-DDDD")  # an earlier server, another key
    dialog = app.open_host_dialog()
    fill(dialog, name="Alice", room="lobby", tcp=str(tcp), udp=str(free_port(socket.SOCK_DGRAM)))
    submit(root, dialog, until=lambda: dialog.closed or bool(dialog.error_text()))
    assert dialog.error_text() == "" and dialog.closed
    server = app.chats[0].server
    assert KnownServers().get(f"127.0.0.1:{tcp}") == server.fingerprint


def test_escape_cancels_and_enter_submits(root, app):
    dialog = app.open_host_dialog()
    dialog.room_entry.focus_force()
    root.update()  # key events go to the window that has the focus once X says so
    fill(dialog, name="", room="x")
    dialog.room_entry.event_generate("<Return>")
    root.update()
    assert dialog.error_text() == "Type a name."
    dialog.name_entry.event_generate("<Escape>")
    root.update()
    assert dialog.closed and not dialog.win.winfo_exists()
    assert app.dialogs == {}


@pytest.mark.parametrize(
    "address, expected",
    [
        ("", "Enter the server's address"),
        ("192.168.1.20:99999", "'99999' is not a port number"),
        ("my host:9090", "is not a server address"),
        ("10.0.0.1:abc", "'abc' is not a port number"),
    ],
)
def test_join_dialog_bad_address(root, app, address, expected):
    dialog = app.open_join_dialog()
    fill(dialog, name="Bob", address=address, room="lobby")
    dialog.ok_button.invoke()
    root.update()
    assert expected in dialog.error_text()
    assert dialog.win.focus_get() is dialog.address_entry
    assert dialog.address_var.get() == address and not dialog.closed
    dialog.refresh_button.invoke()
    root.update()
    assert expected in dialog.error_text()


def test_join_dialog_name_checks(root, app):
    dialog = app.open_join_dialog()
    fill(dialog, name=LONG_NAME, address="127.0.0.1:9", room="lobby")
    dialog.ok_button.invoke()
    root.update()
    assert dialog.error_text() == "The name is too long; remove 1 character."
    fill(dialog, name="Bob", room="a\tb")
    dialog.ok_button.invoke()
    root.update()
    assert dialog.error_text() == "The room name cannot contain tabs or line breaks; type it on one line."


def test_join_dialog_server_unreachable(root, app):
    port = free_port()  # nothing listens there
    dialog = app.open_join_dialog()
    fill(dialog, name="Bob", address=f"127.0.0.1:{port}", room="lobby")
    submit(root, dialog)
    assert f"Could not reach a server at 127.0.0.1:{port}" in dialog.error_text()
    assert not dialog.closed and dialog.room_var.get() == "lobby"


def test_join_dialog_says_when_another_program_answers(root, app):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def answer_like_a_web_server():
            conn, _ = listener.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" + b" " * 64)

        thread = threading.Thread(target=answer_like_a_web_server, daemon=True)
        thread.start()
        dialog = app.open_join_dialog()
        fill(dialog, name="Bob", address=f"127.0.0.1:{port}")
        dialog.refresh_button.invoke()
        pump(root, lambda: dialog.error_text(), what="the dialog to answer")
        thread.join(5)
    assert dialog.error_text().startswith("The program at that address is not an Online Chat Messenger server")
    assert dialog.win.focus_get() is dialog.address_entry


def test_join_dialog_lists_rooms_with_a_lock_marker(root, app, hosted):
    dialog = app.open_join_dialog()
    fill(dialog, name="Bob", address=f"127.0.0.1:{hosted}")
    dialog.refresh_button.invoke()
    pump(root, lambda: dialog.room_names() == ["lobby", "secret"], what="the room list")
    assert dialog.tree.set("lobby", "lock") == ""
    assert "locked" in dialog.tree.set("secret", "lock")
    assert dialog.tree.set("lobby", "host") == "Alice"
    assert dialog.tree.set("lobby", "people") == "1"
    assert dialog.list_status.get() == "2 rooms. Double-click one to join it."
    assert app.settings.server == f"127.0.0.1:{hosted}"  # remembered for next time
    dialog.pick("secret")
    root.update()
    assert dialog.room_var.get() == "secret"
    assert dialog.password_shown()
    dialog.pick("lobby")
    root.update()
    assert not dialog.password_shown()


def test_join_dialog_room_list_by_keyboard(root, app, hosted):
    dialog = app.open_join_dialog()
    fill(dialog, name="Bob", address=f"127.0.0.1:{hosted}", room="")
    dialog.refresh_button.invoke()
    pump(root, lambda: len(dialog.room_names()) == 2, what="the room list")
    dialog.tree.focus_force()
    root.update()
    assert dialog.room_var.get() == "lobby"  # tabbing in picks the first room
    dialog.tree.event_generate("<Down>")
    root.update()
    assert dialog.room_var.get() == "secret" and dialog.password_shown()
    dialog.tree.event_generate("<Return>")  # Enter = Join, with no password typed yet
    pump(root, lambda: not dialog.busy and dialog.error_text(), what="the dialog to answer")
    assert "password" in dialog.error_text().lower()
    assert dialog.win.focus_get() is dialog.password_entry


@pytest.mark.parametrize(
    "room, name, expected, field",
    [
        ("nowhere", "Bob", "No room", "room"),
        ("lobby", "Alice", "Alice", "name"),
    ],
)
def test_join_dialog_server_refusals(root, app, hosted, room, name, expected, field):
    dialog = app.open_join_dialog()
    fill(dialog, name=name, address=f"127.0.0.1:{hosted}", room=room)
    submit(root, dialog)
    assert expected.lower() in dialog.error_text().lower()
    assert dialog.win.focus_get() is getattr(dialog, f"{field}_entry")
    assert not dialog.closed and app.chats == []


def test_join_locked_room_asks_for_the_password(root, app, hosted):
    dialog = app.open_join_dialog()
    fill(dialog, name="Bob", address=f"127.0.0.1:{hosted}", room="secret")
    submit(root, dialog)  # the list was never fetched, so the server has to ask
    assert dialog.error_text() == "This room is locked; type its password and press Join."  # said once
    assert dialog.password_shown()
    assert dialog.win.focus_get() is dialog.password_entry

    dialog.password_var.set("wrong")
    submit(root, dialog)
    assert "password" in dialog.error_text().lower()
    assert dialog.password_var.get() == ""
    assert not dialog.closed

    dialog.password_var.set("open sesame")
    submit(root, dialog, until=lambda: dialog.closed)
    assert [chat.room for chat in app.chats] == ["secret"]


def test_join_dialog_asks_before_trusting_a_server_whose_identity_changed(root, app, monkeypatch):
    from ocm_core.crypto.identity import ServerIdentity
    from ocm_core.net.server import ChatServer
    from ocm_gui.dialogs import join as dialogs

    with ChatServer("127.0.0.1", 0, 0, identity=ServerIdentity.generate()) as first:
        port = first.tcp_address[1]
        ChatClient("127.0.0.1", port).list_rooms()  # the first visit: its identity is remembered
    asked = []
    with ChatServer("127.0.0.1", port, 0, identity=ServerIdentity.generate()) as other:
        monkeypatch.setattr(dialogs, "ask_trust_changed", lambda parent, error: asked.append(error) or False)
        dialog = app.open_join_dialog()
        fill(dialog, name="Bob", address=f"127.0.0.1:{port}")
        dialog.refresh_button.invoke()
        pump(root, lambda: dialog.error_text(), what="the refusal")
        assert "different identity" in dialog.error_text() and asked[0].presented == other.fingerprint
        monkeypatch.setattr(dialogs, "ask_trust_changed", lambda parent, error: asked.append(error) or True)
        dialog.show_error("")
        dialog.refresh_button.invoke()
        pump(
            root,
            lambda: dialog.list_status.get().startswith("No rooms on this server"),
            what="the trusted server's list",
        )
        assert len(asked) == 2 and dialog.trust_changed and dialog.error_text() == ""


@pytest.mark.parametrize(
    "error, expected, field",
    [
        (
            RemoteProtocolError("unknown status code 200"),
            "The program at that address is not an Online Chat Messenger server (unknown status code 200)",
            "address",
        ),
        (
            LocalProtocolError("room name is 300 bytes; the most is 255"),
            "That request cannot be sent (room name is 300 bytes; the most is 255)",
            None,
        ),
    ],
)
def test_join_dialog_blames_the_server_only_for_its_own_protocol_errors(root, settings, error, expected, field):
    app = App(root, settings=settings, backend=FakeBackend(join=error))
    try:
        dialog = app.open_join_dialog()
        fill(dialog, name="Bob", address="192.0.2.7:9090", room="lobby")
        submit(root, dialog)
        assert dialog.error_text().startswith(expected)
        assert app.backend.made == [("192.0.2.7", 9090)] and not dialog.closed
        if field:
            assert dialog.win.focus_get() is getattr(dialog, f"{field}_entry")
        else:
            assert "not an Online Chat Messenger server" not in dialog.error_text()
    finally:
        app.quit()


# -- typing over what a dialog filled in, and Ctrl+A (issue 16 trial)


def type_text(root, entry, text: str) -> None:
    """Keys as a person presses them, into the focused entry."""
    entry.focus_force()
    root.update()
    for key in text:
        entry.event_generate("<KeyPress>", keysym=key)
    root.update()


def test_a_prefilled_room_name_is_selected_so_typing_replaces_it(root, settings):
    settings.update(name="Alice", room="Tea party")
    app = App(root, settings=settings)
    dialog = app.open_host_dialog()
    root.update()
    assert dialog.win.focus_get() is dialog.room_entry
    assert dialog.room_entry.selection_present()
    type_text(root, dialog.room_entry, "quiz")
    assert dialog.room_var.get() == "quiz"  # not "Tea partyquiz"
    dialog.name_entry.focus_set()
    assert app.open_host_dialog() is dialog  # asked for again while open: its first field, selected
    assert dialog.win.focus_get() is dialog.room_entry and dialog.room_entry.selection_present()
    dialog.cancel_button.invoke()
    again = app.open_host_dialog()  # opened again: the field is selected again
    root.update()
    assert again.room_entry.selection_present()
    app.quit()


def test_a_join_dialog_field_it_focuses_is_selected(root, settings):
    settings.update(name="Bob", server="192.0.2.1:9090", room="lobby")
    app = App(root, settings=settings, backend=FakeBackend(rooms=[RoomInfo("lobby", 1, False, "Alice")]))
    dialog = app.open_join_dialog()
    assert dialog.room_entry.selection_present()  # before the list fetched on opening comes
    pump(root, lambda: dialog.room_names(), what="the list")
    app.quit()


@pytest.mark.parametrize("which", ["host", "join"])
def test_ctrl_a_selects_all_in_every_kind_of_entry(root, settings, which):
    settings.update(name="Alice", room="Tea party", server="192.0.2.1:9090")
    app = App(root, settings=settings, backend=FakeBackend(rooms=()))
    dialog = app.open_host_dialog() if which == "host" else app.open_join_dialog()
    plain = tk.Entry(dialog.body)  # a classic Tk entry takes the same shortcut
    plain.insert(0, "a classic entry")
    plain.grid(row=99, column=1)
    entries = [dialog.name_entry, dialog.room_entry, plain]
    if which == "join":
        entries.append(dialog.address_entry)  # a ttk.Combobox
        # The list fetched on opening rewrites the room field when it comes: let it come first.
        pump(root, lambda: app.backend.made and dialog.list_status.get().startswith("No rooms"), what="the list")
        dialog.room_var.set("Tea party")  # the list emptied the remembered room: type one
    for entry in entries:
        entry.focus_force()
        root.update()
        entry.selection_clear()
        entry.icursor(3)
        entry.event_generate(theme.shortcut("a"))
        root.update()
        assert entry.selection_present(), entry
        assert (entry.index("sel.first"), entry.index("sel.last")) == (0, len(entry.get())), entry
    dialog.name_entry.focus_force()
    root.update()
    dialog.name_entry.event_generate(theme.shortcut("a"))
    type_text(root, dialog.name_entry, "x")
    assert dialog.name_var.get() == "x"  # typing replaces what Ctrl+A selected
    app.quit()


def test_a_japanese_error_line_never_starts_with_a_full_stop(root, app):
    dialog = app.open_host_dialog()
    pump(root, lambda: dialog.error_label.winfo_ismapped(), what="the dialog on screen")
    width = dialog.error_label.winfo_pixels(dialog.error_label.cget("wraplength"))
    font = tkfont.nametofont("TkDefaultFont")
    # Exactly as many kana as fit, then a full stop: a Label breaks before the 。
    fit = width // font.measure("あ")
    text = "あ" * fit + "。" + "もう一度試してください。"
    dialog.show_error(text)
    root.update()
    shown = dialog.error_label.cget("text")
    assert dialog.error_text() == text  # the sentence itself is unchanged
    lines = str(shown).split("\n")
    assert "".join(lines) == text
    assert len(lines) == 2 and lines[1].startswith("あ。")
    assert all(font.measure(line) <= width for line in lines), lines
    assert not any(line[0] in NO_START for line in lines[1:])
