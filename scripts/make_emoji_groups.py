"""Writes ocm_core/sansio/emojigroups.py, the emoji a picker offers in Unicode's groups and
order, from Unicode's emoji-test.txt (https://unicode.org/Public/emoji/latest/emoji-test.txt).

    .venv/bin/python scripts/make_emoji_groups.py path/to/emoji-test.txt

The `emoji` package gives the names but not the groups, so the order is kept here as data.
Kept: fully-qualified forms; left out: skin-tone variants (a picker offers the plain form)
and the Component group (skin-tone swatches and hair styles, parts of other emoji).
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "ocm_core" / "sansio" / "emojigroups.py"

# emoji-test.txt's group names and the keys ocm_core/sansio/emojinames.py's Group has for them.
GROUP_KEYS = {
    "Smileys & Emotion": "smileys",
    "People & Body": "people",
    "Animals & Nature": "nature",
    "Food & Drink": "food",
    "Travel & Places": "travel",
    "Activities": "activities",
    "Objects": "objects",
    "Symbols": "symbols",
    "Flags": "flags",
}
SKIN_TONES = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}


def read_groups(text: str) -> tuple[str, dict[str, list[str]]]:
    """(the data's version, each group's key and its emoji as "1F468-200D-1F4BB" in order)."""
    version = re.search(r"^# Version: (\S+)", text, re.MULTILINE)
    groups: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith("# group:"):
            name = line.partition(":")[2].strip()
            current = GROUP_KEYS.get(name)
            if current is None and name != "Component":
                sys.exit(f"make_emoji_groups: a group this script does not know: {name!r}")
            if current is not None:
                groups[current] = []
            continue
        code_points, _, rest = line.partition(";")
        if current is None or line.startswith("#") or not rest:
            continue
        points = code_points.split()
        if rest.partition("#")[0].strip() == "fully-qualified" and not SKIN_TONES & set(points):
            groups[current].append("-".join(points))
    return (version.group(1) if version else "unknown"), groups


def module_text(version: str, groups: dict[str, list[str]]) -> str:
    lines = [
        f'"""The emoji a picker offers, in Unicode\'s groups and order (emoji-test.txt, Emoji {version}):',
        "fully-qualified forms, without skin-tone variants and without the Component group.",
        "",
        "Written by scripts/make_emoji_groups.py: run it again for a newer emoji-test.txt, do not edit.",
        'Each emoji is its code points in hex joined by "-"; the emoji of a group are separated by spaces.',
        '"""',
        "",
        f'VERSION = "{version}"',
        "",
        "GROUPS: tuple[tuple[str, str], ...] = (",
    ]
    for key, emoji in groups.items():
        lines.append("    (")
        lines.append(f'        "{key}",')
        chunks = textwrap.wrap(" ".join(emoji), 103, break_on_hyphens=False)
        lines += [f'        "{chunk} "' for chunk in chunks[:-1]] + [f'        "{chunks[-1]}",']
        lines.append("    ),")
    lines.append(")")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.exit(__doc__)
    version, groups = read_groups(Path(argv[0]).read_text(encoding="utf-8"))
    TARGET.write_text(module_text(version, groups), encoding="utf-8")
    print(f"{TARGET.relative_to(REPO)}: Emoji {version}, {sum(map(len, groups.values()))} emoji")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
