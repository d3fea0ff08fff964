"""The start window: the app's name, your name, and two big buttons."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk


class StartWindow(ttk.Frame):
    def __init__(self, master: tk.Misc, *, name: str, on_host, on_join):
        super().__init__(master, padding=(36, 28, 36, 28))
        self.columnconfigure(0, weight=1, uniform="choice")
        self.columnconfigure(1, weight=1, uniform="choice")

        ttk.Label(self, text="Online Chat Messenger", style="Title.TLabel").grid(
            row=0, column=0, columnspan=2, sticky="w")
        ttk.Label(self, text="Talk with people on your network: host a room, or join one someone else hosts.",
                  style="Muted.TLabel", wraplength=460, justify="left").grid(
            row=1, column=0, columnspan=2, sticky="w", pady=(4, 20))

        name_row = ttk.Frame(self)
        name_row.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(0, 22))
        name_row.columnconfigure(1, weight=1)
        ttk.Label(name_row, text="Your name").grid(row=0, column=0, sticky="w", padx=(0, 12))
        self.name_var = tk.StringVar(value=name)
        self.name_entry = ttk.Entry(name_row, textvariable=self.name_var, width=28)
        self.name_entry.grid(row=0, column=1, sticky="ew")

        self.host_button = ttk.Button(self, text="Host a room", style="Big.TButton", command=on_host)
        self.host_button.grid(row=3, column=0, sticky="nsew", padx=(0, 8))
        self.join_button = ttk.Button(self, text="Join a room", style="Big.TButton", command=on_join)
        self.join_button.grid(row=3, column=1, sticky="nsew", padx=(8, 0))
        ttk.Label(self, text="Start a room on this computer", style="Small.TLabel").grid(
            row=4, column=0, pady=(6, 0))
        ttk.Label(self, text="Enter a room on another computer", style="Small.TLabel").grid(
            row=4, column=1, pady=(6, 0))

        self.status_var = tk.StringVar()
        ttk.Label(self, textvariable=self.status_var, style="Muted.TLabel").grid(
            row=5, column=0, columnspan=2, sticky="w", pady=(18, 0))

        for button in (self.host_button, self.join_button):
            button.bind("<Return>", lambda e: e.widget.invoke())
            button.bind("<KP_Enter>", lambda e: e.widget.invoke())

    @property
    def name(self) -> str:
        return self.name_var.get().strip()

    def set_open_chats(self, count: int) -> None:
        if count:
            self.status_var.set(f"{count} chat window{'s' if count != 1 else ''} open.")
        else:
            self.status_var.set("")
