"""Files dropped on a room (its page, the scrollback or the input) are shared.

Tk has no drag and drop of its own: tkinterdnd2 carries the tkdnd extension for each system,
loaded into the app's existing Tk interpreter (`TkinterDnD._require(root)`). Without the
package or its binary for this system, drops are simply not offered (logged once) and the
Share button remains.
"""

from __future__ import annotations

import importlib
import logging
import tkinter as tk
from collections.abc import Callable, Sequence
from pathlib import Path

from ocm_gui.chat.paste import PathSharer

log = logging.getLogger(__name__)

FILES_TYPE = "DND_Files"
_loaded: dict[str, bool] = {}  # the Tk interpreter's name -> whether tkdnd loaded in it
_told = False


def parse_drop_data(tcl: tk.Misc, data: str) -> tuple[Path, ...]:
    """tkdnd gives the files as a Tcl list: "/a/b {/with space/c}"."""
    return tuple(Path(item) for item in tcl.tk.splitlist(data) if item)


def load_tkdnd(root: tk.Misc) -> bool:
    """Load tkdnd into `root`'s interpreter once; False (logged once) when it cannot be."""
    global _told
    key = str(root.tk.interpaddr())
    if key not in _loaded:
        try:
            # by name: the package has no type information
            importlib.import_module("tkinterdnd2.TkinterDnD")._require(root)
            _loaded[key] = True
        except (ImportError, RuntimeError, tk.TclError) as exc:
            _loaded[key] = False
            if not _told:
                _told = True
                log.info("drag and drop is off (%s): files are shared with the Share button", exc)
    return _loaded[key]


class Dropper:
    """Registers `targets` as drop targets for files; a drop is handed to `files.share_paths`."""

    def __init__(
        self, targets: Sequence[tk.Widget], files: PathSharer, *, enabled: Callable[[], bool], load=load_tkdnd
    ):
        self.files = files
        self._enabled = enabled
        self.targets: list[tk.Widget] = []
        if not targets or not load(targets[0].winfo_toplevel()):
            return
        command = targets[0].register(self.dropped)
        for widget in targets:
            try:
                widget.tk.call("tkdnd::drop_target", "register", widget, (FILES_TYPE,))
                widget.tk.call("bind", widget, f"<<Drop:{FILES_TYPE}>>", f"{command} %D")
                self.targets.append(widget)
            except tk.TclError as exc:
                log.info("could not take drops on %s: %s", widget, exc)

    @property
    def active(self) -> bool:
        return bool(self.targets)

    def dropped(self, data: str) -> str:
        """tkdnd's <<Drop>> handler: the action it reports back to the source."""
        if not self._enabled() or not self.targets:
            return "refuse_drop"
        paths = parse_drop_data(self.targets[0], data)
        if paths:
            self.files.share_paths(paths, ask=False)
        return "copy"
