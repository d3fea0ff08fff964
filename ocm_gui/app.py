"""The app: one Tk root holding the start window; dialogs and chat windows are Toplevels.

``run_app(argv)`` is the entry point: it opens the start window, runs the
mainloop and returns the exit code. Each chat window owns its own client (and,
for a hosted room, its own bundled server), so several chats in one process
share nothing by accident.
"""

from __future__ import annotations

import argparse
import gc
import logging
import logging.handlers
import os
import sys
import tkinter as tk
from pathlib import Path
from tkinter import ttk
from typing import TypeVar

from ocm_core import i18n, paths
from ocm_core.i18n import _
from ocm_gui import theme
from ocm_gui.backend import Backend
from ocm_gui.background import wait_for_background
from ocm_gui.chat.window import ChatWindow
from ocm_gui.dialogs.base import Dialog
from ocm_gui.dialogs.host import HostDialog
from ocm_gui.dialogs.join import JoinDialog
from ocm_gui.dialogs.start import StartWindow
from ocm_gui.icons import icon_files
from ocm_gui.notify.alerts import Notifications
from ocm_gui.settings import Settings
from ocm_gui.text import emoji

D = TypeVar("D", bound=Dialog)

log = logging.getLogger(__name__)

APP_TITLE = "Online Chat Messenger"
LOG_FILE_NAME = "app.log"


def log_file_path() -> Path:
    """The app's log file, in the platform's log directory (the windowed build has no console)."""
    return paths.log_dir() / LOG_FILE_NAME


def set_window_icon(root: tk.Tk) -> None:
    try:
        # Kept on the root: Tk forgets an image whose Python object is collected.
        images = [tk.PhotoImage(master=root, file=str(f)) for f in icon_files()]
        root.__dict__["icon_images"] = images
        if images:
            root.iconphoto(True, *images)  # True: every later Toplevel gets it too
    except tk.TclError as exc:
        log.info("no window icon: %s", exc)


class App:
    def __init__(self, root: tk.Tk, settings: Settings | None = None, backend: Backend | None = None):
        self.root = root
        self.settings = settings if settings is not None else Settings.load()
        self.backend = backend if backend is not None else Backend()
        self.chats: list[ChatWindow] = []
        self.dialogs: dict[type, Dialog] = {}
        self.closing = False
        self.problem: tk.Toplevel | None = None  # the window that reports a failed callback
        self.notifications = Notifications(root, self.settings)

        theme.apply_theme(root)
        set_window_icon(root)
        root.title(APP_TITLE)
        root.columnconfigure(0, weight=1)
        root.rowconfigure(0, weight=1)
        self.start = self._make_start(self.settings.name)
        root.protocol("WM_DELETE_WINDOW", self.close_start)
        if self.settings.name:
            self.start.host_button.focus_set()
        else:
            self.start.name_entry.focus_set()

    def _make_start(self, name: str) -> StartWindow:
        start = StartWindow(
            self.root,
            name=name,
            on_host=self.open_host_dialog,
            on_join=self.open_join_dialog,
            language=self.settings.language,
            on_language=self.set_language,
        )
        start.grid(row=0, column=0, sticky="nsew")
        # Never smaller than what it asks for: at a large Tk scaling or in a wordier language
        # a fixed minimum cut the buttons' captions.
        self.root.update_idletasks()
        least_width, least_height = theme.window_size(self.root, 480, 320)
        self.root.minsize(max(least_width, start.winfo_reqwidth()), max(least_height, start.winfo_reqheight()))
        return start

    def set_language(self, choice: str) -> None:
        """Speak another language ("" = the system's) from now on: the start window is built
        again at once; dialogs and chats opened later follow, open ones keep theirs."""
        self.settings.update(language=choice)
        i18n.use_language(choice)
        typed = self.start.name_var.get()
        self.start.destroy()
        self.start = self._make_start(typed)
        self.start.set_open_chats(len(self.chats))
        self.start.language_box.focus_set()

    # -- dialogs
    def _open_dialog(self, cls: type[D], on_success) -> D:
        existing = self.dialogs.get(cls)
        if isinstance(existing, cls) and not existing.closed:
            existing.win.lift()
            existing.focus_first_field()
            return existing
        self.settings.name = self.start.name  # the dialog starts from what the start window shows
        dialog = cls(
            self.root,
            backend=self.backend,
            settings=self.settings,
            on_success=on_success,
            on_close=lambda d: self._forget_dialog(d),
        )
        self.dialogs[cls] = dialog
        return dialog

    def _forget_dialog(self, dialog: Dialog) -> None:
        self.dialogs.pop(type(dialog), None)
        if dialog.cancelled and not self.closing:
            self._keep_typed(dialog.typed())

    def _keep_typed(self, kept: dict[str, str]) -> None:
        """A cancelled dialog loses nothing typed: its name goes back to the start window and
        the rest waits in memory for the next dialog (saved with the next host or join)."""
        name = kept.pop("name", "")
        if name:
            self.start.name_var.set(name)
            self.settings.name = name
        for key, value in kept.items():
            setattr(self.settings, key, value)

    def open_host_dialog(self) -> HostDialog:
        return self._open_dialog(HostDialog, self._hosted)

    def open_join_dialog(self) -> JoinDialog:
        return self._open_dialog(JoinDialog, self._joined)

    def _hosted(self, server, client, share_address: str) -> None:
        self.open_chat(client, server=server, share_address=share_address)

    def _joined(self, client) -> None:
        self.open_chat(client)

    # -- chats
    def open_chat(self, client, server=None, share_address: str | None = None) -> ChatWindow:
        self.start.name_var.set(client.username)
        chat = ChatWindow(
            self.root,
            client,
            server=server,
            share_address=share_address,
            settings=self.settings,
            on_close=self._chat_closed,
            on_back=self._back_to_start,
            backend=self.backend,
        )
        chat.alerts = self.notifications.watch(chat)
        self.chats.append(chat)
        self.start.set_open_chats(len(self.chats))
        return chat

    def _chat_closed(self, chat: ChatWindow) -> None:
        if chat in self.chats:
            self.chats.remove(chat)
        if self.closing:
            return
        self.start.set_open_chats(len(self.chats))
        if not self.chats and self.root.state() == "withdrawn":
            self.quit()  # the start window was closed earlier and this was the last window

    def _back_to_start(self, chat: ChatWindow) -> None:
        if not self.closing:
            self.show_start()

    def show_start(self) -> None:
        self.root.deiconify()
        self.root.lift()
        self.start.host_button.focus_set()

    def close_start(self) -> None:
        """Closing the start window hides it while chats are open; the last window quits."""
        if self.chats:
            self.root.withdraw()
        else:
            self.quit()

    # -- a callback that raised
    def report_callback_exception(self, exc_type, value, tb) -> None:
        """Tk calls this for an exception in any callback (set on the root by run_app): log it
        with its traceback and tell the person in a small window, never silently."""
        log.error("a window action failed", exc_info=(exc_type, value, tb))
        if self.closing:
            return
        try:
            self._show_problem(
                _(
                    "Something went wrong: {error}\nThe details are in {path}. You can go on; "
                    "if it happens again, restart the app."
                ).format(error=f"{exc_type.__name__}: {value}", path=log_file_path())
            )
        except tk.TclError:
            pass  # the windows are going away; the log has it

    def _show_problem(self, text: str) -> None:
        if self.problem is not None and self.problem.winfo_exists():
            self.problem.destroy()
        self.problem = win = tk.Toplevel(self.root)
        win.title(APP_TITLE)
        win.resizable(False, False)
        self.problem_label = ttk.Label(win, text=text, wraplength=420, justify="left")
        self.problem_label.grid(row=0, column=0, padx=16, pady=(16, 8), sticky="w")
        button = ttk.Button(win, text=_("OK"), command=win.destroy)
        button.grid(row=1, column=0, padx=16, pady=(0, 16), sticky="e")
        button.focus_set()
        win.bind("<Return>", lambda _e: win.destroy())
        win.bind("<Escape>", lambda _e: win.destroy())

    def quit(self) -> None:
        if self.closing:
            return
        self.closing = True
        for chat in list(self.chats):
            chat.leave()
        for dialog in list(self.dialogs.values()):
            dialog.close()
        self.notifications.close()
        self.root.destroy()
        # Tk objects must die on the Tk thread: the windows' cycles are collected here, not
        # by a background thread (a leave, a server stop) that happens to trigger a collection.
        gc.collect()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    i18n.translate_argparse()
    parser = argparse.ArgumentParser(prog="ocm", description=_("Online Chat Messenger desktop app."))
    parser.add_argument("--settings", type=Path, help=_("settings file to use instead of the usual one"))
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help=_("how much to log to stderr"),
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=_scale_from_environment(),
        metavar="FACTOR",
        help=_(
            "draw text and windows FACTOR times their usual size, e.g. 2 on a screen "
            "that reports the wrong dpi (default: the screen's own; also OCM_SCALE)"
        ),
    )
    return parser.parse_args(argv)


def _scale_from_environment() -> float | None:
    value = os.environ.get("OCM_SCALE", "")
    try:
        return float(value) if value else None
    except ValueError:
        log.warning("ignoring OCM_SCALE=%r: not a number", value)
        return None


def _open_log_file() -> logging.Handler | None:
    """Warnings and errors also go to the app's log file; None if it cannot be written."""
    path = log_file_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1 << 20, backupCount=1, encoding="utf-8")
    except OSError as exc:
        log.warning("no log file at %s: %s", path, exc)
        return None
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return handler


def run_app(argv: list[str] | None = None) -> int:
    """Open the start window, run until the last window closes, return the exit code."""
    args = _parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    log_file = _open_log_file()
    try:
        return _run(args)
    finally:
        if log_file is not None:
            logging.getLogger().removeHandler(log_file)
            log_file.close()


def _run(args: argparse.Namespace) -> int:
    emoji.guard_colour_fonts(paths.data_dir())  # before Tk loads any font
    theme.declare_dpi_awareness()
    try:
        root = tk.Tk(className="OnlineChatMessenger")
    except tk.TclError as exc:
        log.error("cannot open a window: %s", exc)
        sys.stderr.write(
            _(
                "Online Chat Messenger needs a graphical display ({error}); run ocm-chat for the terminal version."
            ).format(error=exc)
            + "\n"
        )
        return 1
    if args.scale is not None:
        theme.set_scale(root, args.scale)
    settings = Settings.load(args.settings)
    i18n.use_language(settings.language)
    app = App(root, settings=settings)
    root.report_callback_exception = app.report_callback_exception
    try:
        root.mainloop()
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        if not app.closing:
            try:
                app.quit()  # leaves every room and stops bundled servers
            except tk.TclError:
                pass  # the window system went away first
        wait_for_background(timeout=3.0)
    return 0
