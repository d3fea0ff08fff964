"""The start page, what the main window shows when no room is: the app's name, your name,
two big buttons, and the language."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from ocm_core.i18n import LANGUAGES, _, ngettext
from ocm_core.words import history_moved_text
from ocm_gui import theme
from ocm_gui.text.labelwrap import show_wrapped

APP_NAME = "Online Chat Messenger"  # the product's name, the same in every language


class StartWindow(ttk.Frame):
    def __init__(self, master: tk.Misc, *, name: str, on_host, on_join, language: str = "", on_language=None):
        super().__init__(master, padding=theme.pad(master, 36, 28, 36, 20))
        gap = theme.scaled(master, 8)
        self.columnconfigure(0, weight=1, uniform="choice")
        self.columnconfigure(1, weight=1, uniform="choice")

        ttk.Label(self, text=APP_NAME, style="Title.TLabel").grid(row=0, column=0, columnspan=2, sticky="w")
        self.intro_var = tk.StringVar(
            self, value=_("Talk with people on your network: host a room, or join one someone else hosts.")
        )
        self.intro = ttk.Label(self, style="Muted.TLabel", wraplength=theme.scaled(master, 460), justify="left")
        self.intro.grid(row=1, column=0, columnspan=2, sticky="ew", pady=theme.pad(master, 4, 20))
        # Wrapped to the window's width, not a fixed one that leaves a last word alone on a wide
        # window; Japanese broken where kinsoku allows (no line that begins with 。).
        self.intro.bind("<Configure>", lambda e: e.widget.configure(wraplength=max(theme.scaled(self, 200), e.width)))
        show_wrapped(self.intro, self.intro_var)

        name_row = ttk.Frame(self)
        name_row.grid(row=2, column=0, columnspan=2, sticky="ew", pady=theme.pad(master, 0, 22))
        name_row.columnconfigure(1, weight=1)
        ttk.Label(name_row, text=_("Your name")).grid(row=0, column=0, sticky="w", padx=theme.pad(master, 0, 12))
        self.name_var = tk.StringVar(value=name)
        self.name_entry = ttk.Entry(name_row, textvariable=self.name_var, width=28)
        self.name_entry.grid(row=0, column=1, sticky="ew")

        self.host_button = ttk.Button(self, text=_("Host a room"), style="Big.TButton", command=on_host)
        self.host_button.grid(row=3, column=0, sticky="nsew", padx=(0, gap))
        self.join_button = ttk.Button(self, text=_("Join a room"), style="Big.TButton", command=on_join)
        self.join_button.grid(row=3, column=1, sticky="nsew", padx=(gap, 0))
        ttk.Label(self, text=_("Start a room on this computer"), style="Small.TLabel").grid(
            row=4, column=0, pady=theme.pad(master, 6, 0)
        )
        ttk.Label(self, text=_("Enter a room on another computer"), style="Small.TLabel").grid(
            row=4, column=1, pady=theme.pad(master, 6, 0)
        )

        self.status_var = tk.StringVar()
        ttk.Label(self, textvariable=self.status_var, style="Muted.TLabel").grid(
            row=5, column=0, columnspan=2, sticky="w", pady=theme.pad(master, 18, 0)
        )

        # The language: "" follows the system; a change applies to windows opened after it.
        self.language_codes = ["", *LANGUAGES]
        self.language_names = [_("System language"), *LANGUAGES.values()]
        lang_row = ttk.Frame(self)
        lang_row.grid(row=7, column=0, columnspan=2, sticky="e", pady=theme.pad(master, 10, 0))
        ttk.Label(lang_row, text=_("Language"), style="Small.TLabel").pack(side="left", padx=theme.pad(master, 0, 6))
        self.language_var = tk.StringVar(
            value=self.language_names[self.language_codes.index(language)]
            if language in self.language_codes
            else self.language_names[0]
        )
        self.language_box = ttk.Combobox(
            lang_row,
            textvariable=self.language_var,
            values=self.language_names,
            state="readonly",
            width=theme.chars_to_fit(self, self.language_names),
        )
        self.language_box.pack(side="left")
        if on_language is not None:
            self.language_box.bind("<<ComboboxSelected>>", lambda e: on_language(self.language))

        # Whether conversations are kept on this PC, said plainly from the first start (the History menu changes it).
        self.history_var = tk.StringVar()
        self.history_note = ttk.Label(
            self,
            textvariable=self.history_var,
            style="Small.TLabel",
            wraplength=theme.scaled(master, 460),
            justify="left",
        )
        self.history_note.grid(row=6, column=0, columnspan=2, sticky="w", pady=theme.pad(master, 14, 0))

        # Enter after typing one's name goes on to the choice (a new user pressed it and
        # nothing happened); which of the two it is stays the person's: Enter again hosts,
        # Tab moves to Join.
        for key in ("<Return>", "<KP_Enter>"):
            self.name_entry.bind(key, self._on_to_the_choice)

    def _on_to_the_choice(self, event=None) -> str:
        self.host_button.focus_set()
        return "break"

    @property
    def name(self) -> str:
        return self.name_var.get().strip()

    @property
    def language(self) -> str:
        """The chosen language code, "" for the system's."""
        shown = self.language_var.get()
        return self.language_codes[self.language_names.index(shown)] if shown in self.language_names else ""

    def set_history_note(self, keeping: bool | None, moved_aside: str | None = None) -> None:
        """Say whether conversations are kept on this PC (None: the history cannot be opened),
        and where a damaged history file was moved."""
        if moved_aside is not None:
            text = history_moved_text(moved_aside)
        elif keeping is None:
            text = _("Your history could not be opened on this PC, so conversations are not kept this time.")
        elif keeping:
            text = _(
                "Your conversations are kept on this PC, so you can search them later. "
                "The History menu turns this off or forgets them."
            )
        else:
            text = _("Your conversations are not kept on this PC. The History menu turns keeping on.")
        self.history_var.set(text)

    def set_rooms(self, count: int) -> None:
        """Say how many rooms the sidebar holds (nothing when none)."""
        if count:
            self.status_var.set(
                ngettext(
                    "You are in {count} room; pick it on the left.",
                    "You are in {count} rooms; pick one on the left.",
                    count,
                ).format(count=count)
            )
        else:
            self.status_var.set("")
