"""The app's icons: where its PNGs are, frozen or from the source tree."""

from __future__ import annotations

import sys
from pathlib import Path

ICON_SIZES = (256, 48)


def icon_files() -> list[Path]:
    """The app's PNG icons: bundled beside the code when frozen (sys._MEIPASS), else in the
    source tree's packaging/ folder. Empty when neither is there (an installed wheel)."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))
    files = [base / "packaging" / f"online-chat-messenger-{size}.png" for size in ICON_SIZES]
    return [f for f in files if f.is_file()]
