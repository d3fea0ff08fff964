"""The English catalog says what the source says: copy each msgid into an empty msgstr.

Run by scripts/update-translations.sh after `pybabel update`, so that the English catalog
is complete (tests/test_i18n.py checks it) without anyone typing English twice.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po


def fill(path: Path) -> int:
    with path.open("rb") as fh:
        catalog = read_po(fh)
    filled = 0
    for message in catalog:
        if not message.id:
            continue
        if message.pluralizable:
            if not all(message.string):
                message.string = tuple(message.id)
                filled += 1
        elif not message.string:
            message.string = message.id
            filled += 1
        message.flags.discard("fuzzy")
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100, sort_output=True, omit_header=False)
    return filled


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "ocm_core/locale/en/LC_MESSAGES/ocm.po")
    print(f"{target}: {fill(target)} entries filled from the source")
