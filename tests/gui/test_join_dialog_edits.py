"""The Join dialog as people edit it: an error line leaves when its field changes, a room found
closed leaves the list, a room from another server leaves the room field, Enter in the address
fetches the list, Cancel loses nothing typed, and the buttons stay put when an error shows."""

from __future__ import annotations

import queue

import pytest
from gui_helpers import FakeBackend, pump

from ocm_core.errors import RoomNotFound, ServerUnreachable
from ocm_core.net.discovery import FoundRoom
from ocm_core.wire import RoomInfo
from ocm_gui import theme
from ocm_gui.app import App
from ocm_gui.dialogs.join import same_server

ROOMS = [RoomInfo("lobby", 2, False, "Alice"), RoomInfo("quiz", 1, True, "Carol"), RoomInfo("gone", 1, True, "Dan")]
GONE = RoomNotFound("There is no room named “gone” on this server; check the name.")  # as the client says it


class FakeBrowser:
    """Stands in for RoomBrowser: the test puts whole lists of found rooms on `updates`."""

    def __init__(self):
        self.updates: queue.Queue = queue.Queue()
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


class NetworkBackend(FakeBackend):
    finds_rooms = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.browser = FakeBrowser()

    def make_browser(self):
        return self.browser


def found(room: str, address: str = "192.0.2.5", port: int = 9090) -> FoundRoom:
    return FoundRoom(address, port, room, 1, False, "Host")


@pytest.fixture
def make_app(root, settings):
    apps = []

    def make(backend=None, **saved):
        for key, value in saved.items():
            setattr(settings, key, value)
        application = App(root, settings=settings, backend=backend or FakeBackend(rooms=ROOMS))
        root.update()
        apps.append(application)
        return application

    yield make
    for application in apps:
        if not application.closing:
            application.quit()


def listed(root, dialog, address="192.0.2.1:9090"):
    """Fetch the fake server's list by address and wait for it."""
    dialog.address_var.set(address)
    dialog.refresh_button.invoke()
    pump(root, lambda: dialog.room_names(), what="the room list")


def join(root, dialog):
    dialog.ok_button.invoke()
    return pump(root, lambda: not dialog.busy and (dialog.error_text() or dialog.closed), what="the join's answer")


def test_same_server_reads_addresses_as_a_person_types_them():
    assert same_server("192.0.2.1", "192.0.2.1:9090")
    assert same_server(" 192.0.2.1:9090 ", "192.0.2.1:9090")
    assert not same_server("192.0.2.1:9090", "192.0.2.1:9091")
    assert not same_server("192.0.2.1", "192.0.2.10")
    assert same_server("my host", "my host") and not same_server("my host", "other host")


def test_an_error_leaves_when_the_field_it_is_about_changes_and_not_before(root, make_app):
    app = make_app()
    dialog = app.open_join_dialog()
    dialog.name_var.set("")
    dialog.address_var.set("192.0.2.1:9090")
    dialog.room_var.set("lobby")
    dialog.ok_button.invoke()
    root.update()
    assert dialog.error_text() == "Type a name."
    dialog.room_var.set("quiz")  # not what the error is about
    assert dialog.error_text() == "Type a name."
    dialog.name_var.set("B")
    assert dialog.error_text() == ""

    dialog.address_var.set("my host:9090")
    dialog.ok_button.invoke()
    root.update()
    assert "is not a server address" in dialog.error_text()
    dialog.name_var.set("Bob")
    assert "is not a server address" in dialog.error_text()
    dialog.address_entry.delete(0, "end")
    dialog.address_entry.insert(0, "192.0.2.1")  # typed anew
    assert dialog.error_text() == ""


def test_picking_a_room_clears_the_pick_a_room_error(root, make_app):
    app = make_app()
    dialog = app.open_join_dialog()
    dialog.name_var.set("Bob")
    listed(root, dialog)
    dialog.room_var.set("")
    dialog.ok_button.invoke()
    assert dialog.error_text() == "Pick a room from the list or type its name."
    root.update()  # the list takes the keyboard, which may pick its first room (and so clear it)
    dialog.show_error("Pick a room from the list or type its name.", dialog.tree)
    dialog.pick("lobby")
    root.update()
    assert dialog.error_text() == "" and dialog.room_var.get() == "lobby"


def test_a_room_found_closed_by_a_join_leaves_the_listed_rooms(root, make_app):
    app = make_app()
    dialog = app.open_join_dialog()
    dialog.name_var.set("Bob")
    listed(root, dialog)
    assert dialog.room_names() == ["gone", "lobby", "quiz"]
    dialog.pick("gone")
    assert dialog.password_shown()  # it was locked
    app.backend.join = GONE
    join(root, dialog)
    assert dialog.error_text() == str(GONE)
    assert dialog.room_names() == ["lobby", "quiz"] and not dialog.password_shown()
    assert dialog.list_status.get() == "2 rooms. Double-click one to join it."
    assert dialog.win.focus_get() is dialog.room_entry and not dialog.closed


def test_a_closed_room_is_not_taken_off_another_servers_list(root, make_app):
    app = make_app()
    dialog = app.open_join_dialog()
    dialog.name_var.set("Bob")
    listed(root, dialog, "192.0.2.1:9090")
    dialog.address_var.set("192.0.2.2:9090")  # the list still shows 192.0.2.1's rooms
    dialog.room_var.set("gone")
    app.backend.join = GONE
    join(root, dialog)
    assert dialog.room_names() == ["gone", "lobby", "quiz"]


def test_a_room_found_on_the_network_and_then_closed_leaves_that_list_until_it_is_hosted_again(root, make_app):
    backend = NetworkBackend()
    app = make_app(backend)
    dialog = app.open_join_dialog()
    assert dialog.mode_var.get() == "network"
    dialog.name_var.set("Bob")
    on_network = [found("lobby"), found("gone"), found("gone", "192.0.2.6")]
    backend.browser.updates.put(on_network)
    pump(root, lambda: len(dialog.room_names()) == 3, what="the found rooms")
    dialog.pick("192.0.2.5:9090/gone")
    backend.join = GONE
    join(root, dialog)
    assert dialog.error_text() == str(GONE)
    assert sorted(dialog.tree.get_children()) == ["192.0.2.5:9090/lobby", "192.0.2.6:9090/gone"]
    assert dialog.list_status.get() == "2 rooms on this network. Double-click one to join it."
    backend.browser.updates.put(on_network)  # the announcement not withdrawn yet
    pump(root, lambda: backend.browser.updates.empty(), what="the update to be read")
    root.update()
    assert sorted(dialog.tree.get_children()) == ["192.0.2.5:9090/lobby", "192.0.2.6:9090/gone"]
    backend.browser.updates.put([found("lobby")])  # withdrawn
    pump(root, lambda: dialog.room_names() == ["lobby"], what="the withdrawn room")
    backend.browser.updates.put(on_network)  # hosted again under the same name
    pump(root, lambda: len(dialog.room_names()) == 3, what="the room hosted again")


def test_when_the_only_room_found_turns_out_closed_the_dialog_explains_the_empty_list(root, make_app):
    backend = NetworkBackend()
    app = make_app(backend)
    dialog = app.open_join_dialog()
    dialog.name_var.set("Bob")
    backend.browser.updates.put([found("gone")])
    pump(root, lambda: dialog.room_names() == ["gone"], what="the found room")
    dialog.pick("192.0.2.5:9090/gone")
    backend.join = GONE
    join(root, dialog)
    assert dialog.room_names() == [] and dialog.error_text() == str(GONE)
    assert "0 rooms" not in dialog.list_status.get()
    assert dialog.help_frame.winfo_manager() == "grid"  # why a network may show none, and what to do


def test_a_room_from_another_server_is_cleared_when_the_address_changes(root, make_app):
    app = make_app(server="192.0.2.1:9090", room="lobby")  # left from last time
    dialog = app.open_join_dialog()
    assert dialog.room_var.get() == "lobby"
    dialog.address_var.set("192.0.2.1")  # the same server, written shorter
    assert dialog.room_var.get() == "lobby"
    dialog.address_var.set("192.0.2.9:9090")
    assert dialog.room_var.get() == ""

    listed(root, dialog, "192.0.2.9:9090")
    dialog.pick("quiz")
    root.update()
    assert dialog.password_shown()
    dialog.address_entry.delete(0, "end")
    dialog.address_entry.insert(0, "192.0.2.3")
    assert dialog.room_var.get() == "" and dialog.tree.selection() == ()


def test_a_room_typed_before_any_address_is_kept(root, make_app):
    app = make_app()
    dialog = app.open_join_dialog()
    dialog.address_var.set("")
    dialog.room_var.set("lobby")
    dialog.address_var.set("192.0.2.1:9090")
    assert dialog.room_var.get() == "lobby"


def test_a_found_room_typed_by_name_joins_its_server_with_the_name_kept(root, make_app):
    backend = NetworkBackend()
    app = make_app(backend, server="192.0.2.1:9090", room="")
    dialog = app.open_join_dialog()
    dialog.name_var.set("Bob")
    backend.browser.updates.put([found("lobby")])
    pump(root, lambda: dialog.room_names() == ["lobby"], what="the found room")
    dialog.tree.selection_remove(*dialog.tree.selection())
    dialog.room_var.set("lobby")  # typed, for a room the network lists
    join(root, dialog)
    assert dialog.closed and backend.made[-1] == ("192.0.2.5", 9090)
    assert app.chats[0].room == "lobby"


def test_enter_in_the_address_fetches_the_list_without_asking_for_a_room(root, make_app):
    app = make_app()
    dialog = app.open_join_dialog()
    dialog.name_var.set("Bob")
    dialog.room_var.set("")
    dialog.address_var.set("192.0.2.1:9090")
    dialog.address_entry.focus_force()
    root.update()
    dialog.address_entry.event_generate("<Return>")
    pump(root, lambda: dialog.room_names(), what="the room list")
    root.update()
    assert dialog.error_text() == ""
    assert dialog.room_names() == ["gone", "lobby", "quiz"] and not dialog.closed
    assert app.backend.made == [("192.0.2.1", 9090)]


@pytest.mark.parametrize("how", ["cancel", "escape", "close"])
def test_cancel_keeps_what_was_typed_in_the_start_window_and_the_dialog(root, make_app, how):
    app = make_app()
    app.start.name_var.set("Bob")
    language = app.start.language_var.get()
    dialog = app.open_join_dialog()
    assert dialog.name_var.get() == "Bob"
    dialog.address_var.set("192.0.2.7:9090")
    dialog.password_var.set("secret")
    if how == "cancel":
        dialog.cancel_button.invoke()
    elif how == "escape":
        dialog.win.focus_force()
        root.update()
        dialog.address_entry.event_generate("<Escape>")
    else:
        root.tk.call(dialog.win.protocol("WM_DELETE_WINDOW"))  # the window manager's close button
    root.update()
    assert dialog.closed
    assert app.start.name_var.get() == "Bob" and app.start.language_var.get() == language
    again = app.open_join_dialog()
    assert again.name_var.get() == "Bob" and again.address_var.get() == "192.0.2.7:9090"
    assert again.password_var.get() == ""  # a password is never kept


def test_a_name_changed_in_a_cancelled_dialog_goes_back_to_the_start_window(root, make_app):
    app = make_app()
    app.start.name_var.set("Bob")
    dialog = app.open_host_dialog()
    dialog.name_var.set("Bobby")
    dialog.cancel_button.invoke()
    root.update()
    assert app.start.name_var.get() == "Bobby"
    assert app.open_join_dialog().name_var.get() == "Bobby"


def test_a_name_cleared_in_the_start_window_is_not_brought_back_by_a_dialog(root, make_app):
    app = make_app(name="Saved")
    assert app.start.name_var.get() == "Saved"
    app.start.name_var.set("")
    dialog = app.open_join_dialog()
    assert dialog.name_var.get() == "" and dialog.first_field() is dialog.name_entry


@pytest.mark.parametrize("which", ["host", "join"])
def test_the_buttons_stay_put_when_an_error_line_appears(root, make_app, which):
    app = make_app()
    dialog = app.open_host_dialog() if which == "host" else app.open_join_dialog()
    pump(root, lambda: dialog.ok_button.winfo_ismapped(), what="the dialog on screen")
    before = (dialog.ok_button.winfo_rooty() - dialog.win.winfo_rooty(), dialog.win.winfo_height())
    dialog.name_var.set("")
    dialog.ok_button.invoke()
    root.update()
    assert dialog.error_text() == "Type a name."
    after = (dialog.ok_button.winfo_rooty() - dialog.win.winfo_rooty(), dialog.win.winfo_height())
    assert after == before


def test_a_locked_room_is_marked_in_the_warning_colour(root, make_app):
    app = make_app()
    dialog = app.open_join_dialog()
    listed(root, dialog)
    assert "locked" in dialog.tree.item("quiz", "tags")
    assert str(dialog.tree.tag_configure("locked", "foreground")) == theme.WARN_FG


def test_a_room_listed_with_a_lone_surrogate_is_left_off_and_a_host_name_shown_mended(root, make_app, caplog):
    """JSON can carry "\\ud800", which no join can send back and Tk refuses: a misbehaving
    server's list must not break the dialog."""
    rooms = [RoomInfo("bad\ud800", 1, False, "Eve"), RoomInfo("lobby", 1, False, "Al\udc00ice")]
    app = make_app(FakeBackend(rooms=rooms))
    dialog = app.open_join_dialog()
    listed(root, dialog)
    assert dialog.room_names() == ["lobby"]
    assert dialog.tree.set("lobby", "host") == "Al\ufffdice"
    assert "not text" in caplog.text


def test_a_standing_room_is_listed_as_one_with_no_person_as_host(root, make_app):
    rooms = [RoomInfo("lobby", 3, False, "", "a" * 32, True), RoomInfo("quiz", 1, False, "Carol")]
    app = make_app(FakeBackend(rooms=rooms))
    dialog = app.open_join_dialog()
    listed(root, dialog)
    assert dialog.tree.set("lobby", "host") == "(standing room)"
    assert dialog.tree.set("quiz", "host") == "Carol"


# -- the remembered room, and the one room of a list (issue 16 trial)


def test_a_remembered_room_the_fetched_list_does_not_hold_is_cleared(root, make_app):
    app = make_app(server="192.0.2.1:9090", room="Tea party", name="Bob")  # closed since last time
    dialog = app.open_join_dialog()
    assert dialog.room_var.get() == "Tea party"
    listed(root, dialog)
    assert dialog.room_var.get() == ""  # Enter no longer says there is no room "Tea party"
    dialog.room_var.set("Tea party")  # typed in this dialog: the person's word stands
    listed(root, dialog)
    assert dialog.room_var.get() == "Tea party"


def test_a_remembered_room_the_list_holds_stays_picked(root, make_app):
    app = make_app(server="192.0.2.1:9090", room="quiz", name="Bob")
    dialog = app.open_join_dialog()
    listed(root, dialog)
    assert dialog.room_var.get() == "quiz" and dialog.tree.selection() == ("quiz",)


def test_the_only_room_of_a_list_is_picked_every_time_the_field_is_empty(root, make_app):
    app = make_app(
        FakeBackend(rooms=[RoomInfo("lobby", 2, False, "Alice")]), server="192.0.2.1:9090", room="Tea party", name="Bob"
    )
    dialog = app.open_join_dialog()
    listed(root, dialog)
    assert dialog.room_var.get() == "lobby" and dialog.tree.selection() == ("lobby",)
    dialog.address_var.set("192.0.2.2:9090")  # another server: the room field empties
    assert dialog.room_var.get() == ""
    dialog.refresh_button.invoke()  # the list still shows 192.0.2.1's lobby until this answers
    pump(root, lambda: app.backend.made[-1] == ("192.0.2.2", 9090) and dialog.room_var.get(), what="the new list")
    assert dialog.room_var.get() == "lobby" and dialog.tree.selection() == ("lobby",)


def test_on_the_network_a_remembered_room_not_found_gives_way_to_the_only_room(root, make_app):
    backend = NetworkBackend()
    app = make_app(backend, server="192.0.2.1:9090", room="Tea party", name="Bob")
    dialog = app.open_join_dialog()
    dialog.name_entry.focus_set()  # the keyboard is not on the list: the pick is not Tab's
    backend.browser.updates.put([found("lobby")])
    pump(root, lambda: dialog.room_names() == ["lobby"], what="the found room")
    assert dialog.room_var.get() == "lobby" and dialog.address_var.get() == "192.0.2.5:9090"
    join(root, dialog)
    assert dialog.closed and backend.made[-1] == ("192.0.2.5", 9090)


# -- a refresh that fails


def test_a_failed_refresh_for_another_address_empties_the_list(root, make_app):
    app = make_app(name="Bob")
    dialog = app.open_join_dialog()
    listed(root, dialog, "192.0.2.1:9090")
    app.backend.rooms = ServerUnreachable("Nothing answered at 192.0.2.9:9090.")
    dialog.address_var.set("192.0.2.9:9090")
    dialog.refresh_button.invoke()
    pump(root, lambda: dialog.error_text(), what="the failed refresh")
    assert dialog.room_names() == [] and dialog.rooms == {}
    assert dialog.list_status.get() == "No room list."


def test_a_failed_refresh_of_the_same_server_keeps_its_rooms_and_says_so(root, make_app):
    app = make_app(name="Bob")
    dialog = app.open_join_dialog()
    listed(root, dialog, "192.0.2.1:9090")
    app.backend.rooms = ServerUnreachable("Nothing answered at 192.0.2.1:9090.")
    dialog.address_var.set("192.0.2.1")  # the same server, written shorter
    dialog.refresh_button.invoke()
    pump(root, lambda: dialog.error_text(), what="the failed refresh")
    assert dialog.room_names() == ["gone", "lobby", "quiz"]
    assert dialog.list_status.get() == "The refresh failed; these are the rooms this server listed before."
