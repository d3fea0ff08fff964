"""What a person can do with the scrollback's text besides reading it: copy it, select all,
follow a link, and the menu of the right mouse button (Control-click and the second button
on macOS; Shift+F10 and the menu key from the keyboard).

The scrollback holds zero-width break spaces (ocm_gui/text/linebreak.py) and the delivery marks
of one's own messages (tagged MARK_TAG); what a person copies, or pastes with the middle
button, is the text without either. A link (tagged LINK_TAG by the scrollback) opens in the
browser through `open_url`, and only if it is an http(s) address (chatlines.link_target).
"""

from __future__ import annotations

import logging
import sys
import tkinter as tk
from collections.abc import Callable
from typing import Literal

from ocm_core.i18n import _
from ocm_gui import theme
from ocm_gui.chat.chatlines import link_target, menu_keys
from ocm_gui.text.emoji import emoji_family, emoji_font, emoji_spans
from ocm_gui.text.linebreak import BREAK_TAG

log = logging.getLogger(__name__)

MARK_TAG = "mark"  # delivery marks: shown, never copied
LINK_TAG = "link"

MenuState = Literal["normal", "disabled"]


class TextActions:
    """Copying, links and the context menu of a read-only Text. Create it after the Text's
    other tags, so that a link's colour wins over theirs."""

    def __init__(
        self,
        text: tk.Text,
        *,
        open_url: Callable[[str], object],
        on_message: Callable[[str], object] | None = None,
        message_items: Callable[[str], list] | None = None,
    ):
        """`on_message(name)`: a sender's name right-clicked offers to write to them alone.
        `message_items(index)`: what the message at `index` offers (Reply, React, Edit ...): menu
        items as menu_items() gives them, an item whose action is a list being a submenu of them."""
        self._on_message = on_message
        self._message_items = message_items
        self.text = text
        self.open_url = open_url
        text.bind("<<Copy>>", self.copy)
        for kind in ("STRING", "UTF8_STRING"):
            text.selection_handle(self._selected_text, type=kind)
        text.bind(theme.shortcut("a"), self.select_all)
        self.menu = tk.Menu(text, tearoff=0)
        for sequence in theme.menu_buttons(sys.platform):
            text.bind(sequence, self._menu_from_mouse, add="+")
        for sequence in menu_keys(sys.platform):
            try:
                text.bind(sequence, self._menu_from_keyboard, add="+")
            except tk.TclError:  # this Tk does not know the key's name
                log.debug("no key %s on this system", sequence)
        text.tag_configure(LINK_TAG, foreground=theme.ACCENT, underline=True)
        text.tag_bind(LINK_TAG, "<Enter>", lambda e: text.configure(cursor="hand2"))
        text.tag_bind(LINK_TAG, "<Leave>", lambda e: text.configure(cursor="arrow"))
        text.tag_bind(LINK_TAG, "<ButtonRelease-1>", self._on_link_click)

    # ------------------------------------------------------------------ copying
    def copy(self, event=None) -> str:
        if not self.text.tag_ranges("sel"):
            return "break"  # nothing selected
        self._to_clipboard(self.plain_text("sel.first", "sel.last", marks=False))
        return "break"

    def _to_clipboard(self, text: str) -> None:
        self.text.clipboard_clear()
        self.text.clipboard_append(text)

    def _selected_text(self, offset, length) -> str:
        if not self.text.tag_ranges("sel"):
            return ""
        return self.plain_text("sel.first", "sel.last", marks=False)[int(offset) : int(offset) + int(length)]

    def plain_text(self, start: str, end: str, marks: bool = True) -> str:
        """The text from start to end without the break spaces (and, with marks=False, without
        the delivery marks of one's own messages: what a copy holds)."""
        hidden = {BREAK_TAG} if marks else {BREAK_TAG, MARK_TAG}
        inside = hidden & set(self.text.tag_names(start))
        pieces = []
        for key, value, _index in self.text.dump(start, end, text=True, tag=True):
            if key == "text":
                if not inside:
                    pieces.append(value)
            elif value in hidden:
                if key == "tagon":
                    inside.add(value)
                else:
                    inside.discard(value)
        return "".join(pieces)

    def select_all(self, event=None) -> str:
        self.text.tag_add("sel", "1.0", "end-1c")
        return "break"

    # ------------------------------------------------------------------ links
    def link_at(self, index: str) -> str | None:
        """The address the link at `index` opens, or None when there is no link there."""
        if LINK_TAG not in self.text.tag_names(index):
            return None
        found = self.text.tag_prevrange(LINK_TAG, f"{index}+1c")
        return link_target(self.plain_text(str(found[0]), str(found[1]))) if found else None

    def open_link(self, address: str) -> bool:
        """Hand an http(s) address to the browser; anything else is refused (and logged)."""
        target = link_target(address)
        if target is None:
            log.warning("not opening %r: only http and https links open", address[:80])
            return False
        try:
            self.open_url(target)
        except Exception:  # the browser is the system's: its failure must not end the window
            log.exception("could not open %s in the browser", target)
            return False
        return True

    def _on_link_click(self, event) -> None:
        if self.text.tag_ranges("sel"):
            return  # the press started a selection: the person is copying, not following
        target = self.link_at(f"@{event.x},{event.y}")
        if target is not None:
            self.open_link(target)

    # ------------------------------------------------------------------ context menu
    def menu_items(self, index: str) -> list:
        """The menu at `index`: (label, "normal" or "disabled", action) for each entry."""
        has_selection = bool(self.text.tag_ranges("sel"))
        items: list = []
        if self._message_items is not None:
            items += self._message_items(index)
        items.append((_("Copy"), "normal" if has_selection else "disabled", self.copy))
        link = self.link_at(index)
        if link is not None:
            items.append((_("Copy link"), "normal", lambda: self._to_clipboard(link)))
        sender = self.sender_at(index)
        if sender is not None and self._on_message is not None:
            on_message = self._on_message
            items.append((_("Message {name}…").format(name=sender), "normal", lambda: on_message(sender)))
        items.append((_("Select all"), "normal", self.select_all))
        return items

    def sender_at(self, index: str) -> str | None:
        """The name of another person's message where `index` is (on the name itself)."""
        tags = self.text.tag_names(index)
        if "sender" not in tags or "ownsender" in tags:
            return None
        found = self.text.tag_prevrange("sender", f"{index} + 1c")
        name = self.text.get(*found).strip() if found else ""
        return name or None

    def post_menu(self, index: str, x_root: int, y_root: int) -> None:
        self.menu.delete(0, "end")
        for child in self.menu.winfo_children():
            child.destroy()
        for label, state, action in self.menu_items(index):
            if isinstance(action, list):
                submenu = tk.Menu(self.menu, tearoff=0)
                family = emoji_family(self.text)
                for sub_label, sub_state, sub_action in action:
                    # An emoji in the emoji font: in the menu's own font ❤️ 😂 draw as black outlines.
                    font = emoji_font(self.text, family) if family and emoji_spans(sub_label) else ""
                    submenu.add_command(label=sub_label, state=sub_state, command=sub_action, font=font)
                self.menu.add_cascade(label=label, state=state, menu=submenu)
            else:
                self.menu.add_command(label=label, state=state, command=action)
        self.menu.tk_popup(x_root, y_root)

    def _menu_from_mouse(self, event) -> str:
        self.post_menu(f"@{event.x},{event.y}", event.x_root, event.y_root)
        return "break"

    def _menu_from_keyboard(self, event=None) -> str:
        bbox = self.text.bbox("insert")
        x, y = (bbox[0], bbox[1] + bbox[3]) if bbox else (self.text.winfo_width() // 3, 20)
        self.post_menu("insert", self.text.winfo_rootx() + x, self.text.winfo_rooty() + y)
        return "break"
