"""The lost-host and session-gone banners at the narrowest chat window, scaling 1 and 2,
English and Japanese: on a screen of their own, big enough for a window at scaling 2."""

from __future__ import annotations

import pytest
from big_screen import big_screen, on_big_screen, root  # the windows at scaling 2 need room
from gui_helpers import FakeBackend, pump
from test_lost_host import GONE, handle, make_chat, text_fits  # make_chat is a fixture

from ocm_core import i18n
from ocm_core.errors import RoomNotFound
from ocm_core.sansio.events import ConnectionLost, HostNotAnswering
from ocm_gui import theme


@pytest.mark.parametrize("scaling", [1.0, 2.0])
@pytest.mark.parametrize("language", ["en", "ja"])
def test_banner_words_wrap_and_are_never_cut_off_by_buttons_at_the_narrowest_window(root, make_chat, scaling, language):
    root.tk.call("tk", "scaling", theme.BASE_SCALING * scaling)
    i18n.use_language(language)
    try:
        chat = make_chat()
        root.update_idletasks()
        chat.win.geometry("{}x{}".format(*chat.win.minsize()))  # the narrowest it may be
        handle(root, chat, ConnectionLost(), HostNotAnswering(39))
        pump(root, lambda: chat.banner_label.winfo_ismapped(), what="the banner")
        text_fits(root, chat)
        assert (
            chat.banner_label.winfo_height() > chat.banners.buttons[0].winfo_height()
            or language == "ja"
            and scaling == 1.0
        )
        handle(root, chat, GONE)
        text_fits(root, chat)
        people = chat.people
        for label in (people.heading, people.ended):  # the People list's words wrap too
            assert label.winfo_x() + label.winfo_reqwidth() <= people.frame.winfo_width(), label.cget("text")
            assert label.winfo_height() >= label.winfo_reqheight()
        chat.lost.backend = FakeBackend(
            join=RoomNotFound(
                i18n._("There is no room named “{room}” on this server; check the name.").format(room="lobby")
            )
        )
        chat.banners.button(i18n._("Rejoin")).invoke()
        pump(root, lambda: chat.banners.buttons[0].instate(["!disabled"]), what="the rejoin to fail")
        text_fits(root, chat)
    finally:
        i18n.use_language("en")


# --- the session is gone: Rejoin -----------------------------------------------------------------
