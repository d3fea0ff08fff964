"""The app's words in the person's language: one gettext domain for the CLI, the GUI and
the sentences the core raises, with catalogs under ``ocm_core/locale``.

Every module that shows words imports, in one line::

    from ocm_core.i18n import _, N_, ngettext

``_("text")`` translates now, ``ngettext(one, many, n)`` picks the plural form for ``n``,
and ``N_("text")`` only marks a string for extraction (a table built at import time,
translated with ``_()`` where it is shown). Placeholders are ``{name}`` (str.format),
never concatenated pieces, so a translation can put them in its own order.

The language is chosen once at start (``use_language``): a choice from the settings,
else the system's (LANGUAGE, LC_ALL, LC_MESSAGES, LANG on Linux and macOS; the user's UI
language on Windows, and macOS's language list when no variable is set), else English. ``_`` looks up the
current catalog on every call,
so a window built after a change speaks the new language. Catalogs are compiled
(``.mo``, committed) by ``scripts/update-translations.sh`` with Babel; at run time only
the standard library's gettext reads them, so the one-file build carries them as data.
"""

from __future__ import annotations

import gettext
import locale
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

DOMAIN = "ocm"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE_LANGUAGE = "en"
# The languages with a catalog, each named in its own language (for the settings menu).
LANGUAGES = {"en": "English", "ja": "日本語"}
ENV_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = SOURCE_LANGUAGE


def _(message: str) -> str:
    """The message in the current language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of the message that fits the number n in the current language."""
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a string for extraction without translating it (translate it where shown)."""
    return message


def current_language() -> str:
    return _language


def normalize(tag: str) -> str | None:
    """'ja_JP.UTF-8', 'ja-JP', 'ja' -> 'ja'; 'C' and 'POSIX' -> 'en'; unknown -> None."""
    tag = tag.strip().split(".")[0].split("@")[0].replace("-", "_")
    if tag in ("C", "POSIX"):
        return SOURCE_LANGUAGE
    base = tag.split("_")[0].lower()
    return base if base in LANGUAGES else None


def env_languages(environ: Mapping[str, str] | None = None) -> list[str]:
    """The languages the environment asks for, most wanted first, as gettext reads them:
    the first of LANGUAGE, LC_ALL, LC_MESSAGES, LANG that is set (LANGUAGE may list several)."""
    environ = os.environ if environ is None else environ
    for name in ENV_VARIABLES:
        value = environ.get(name, "")
        if value:
            return value.split(":")
    return []


def windows_languages(langid: int) -> list[str]:
    """A Windows LANGID (GetUserDefaultUILanguage) as a locale name, e.g. 0x0411 -> ['ja_JP']."""
    name = locale.windows_locale.get(langid)
    return [name] if name else []


def _windows_ui_langid() -> int | None:
    if sys.platform == "win32":  # a branch mypy checks with --platform win32
        import ctypes

        try:
            return int(ctypes.windll.kernel32.GetUserDefaultUILanguage())
        except (AttributeError, OSError) as exc:
            log.info("cannot read the Windows UI language: %s", exc)
    return None


def macos_languages(defaults_output: str) -> list[str]:
    """`defaults read -g AppleLanguages` output, e.g. '(\n    "ja-JP",\n    "en-JP"\n)' -> ['ja-JP', 'en-JP']."""
    return [item.strip().strip('"') for item in defaults_output.strip().strip("()").split(",") if item.strip()]


def _macos_preferred() -> str:
    """The user's language list from macOS's settings: an app opened from the Finder gets no LANG."""
    import subprocess

    try:
        return subprocess.run(
            ["/usr/bin/defaults", "read", "-g", "AppleLanguages"], capture_output=True, text=True, timeout=2
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("cannot read the macOS language list: %s", exc)
        return ""


def system_languages(environ: Mapping[str, str] | None = None, platform: str | None = None) -> list[str]:
    """What the system asks for. On Windows the environment rarely says; the UI language does.
    On macOS a terminal sets LANG, the Finder does not; the user's language list does."""
    platform = sys.platform if platform is None else platform
    wanted = env_languages(environ)
    if platform == "win32" and not wanted:
        langid = _windows_ui_langid()
        wanted = windows_languages(langid) if langid is not None else []
    elif platform == "darwin" and not wanted:
        wanted = macos_languages(_macos_preferred())
    return wanted


def pick_language(choice: str = "", environ: Mapping[str, str] | None = None, platform: str | None = None) -> str:
    """The language to speak: the settings' choice if we have it, else the system's, else English."""
    for tag in ([choice] if choice else []) + system_languages(environ, platform):
        found = normalize(tag)
        if found:
            return found
    return SOURCE_LANGUAGE


def use_language(choice: str = "", environ: Mapping[str, str] | None = None) -> str:
    """Switch every later `_()` to the chosen (or the system's) language; returns its code."""
    global _translation, _language
    language = pick_language(choice, environ)
    try:
        translation: gettext.NullTranslations = gettext.translation(
            DOMAIN, localedir=str(LOCALE_DIR), languages=[language]
        )
    except OSError as exc:  # a build without catalogs still works, in English
        log.warning("no %s catalog in %s (%s); using English", language, LOCALE_DIR, exc)
        translation, language = gettext.NullTranslations(), SOURCE_LANGUAGE
    _translation, _language = translation, language
    return language


# --- lengths as people count them: the wire counts UTF-8 bytes, a person characters ---


def as_sentence(reason: str) -> str:
    """A lower-case reason (a server's, a codec's) as a sentence: capitalised, and ended
    with a full stop unless it already ends one."""
    sentence = reason[:1].upper() + reason[1:]
    return sentence if sentence.endswith((".", "。", "!", "?")) else sentence + "."


def chars_over(text: str, excess_bytes: int) -> int:
    """How many characters to cut from the end of text to save excess_bytes (0 if none)."""
    cut = saved = 0
    for ch in reversed(text):
        if saved >= excess_bytes:
            break
        saved += len(ch.encode("utf-8"))
        cut += 1
    return cut


def chars_left(text: str, room_bytes: int) -> int:
    """How many more characters of the kind last typed fit in room_bytes: a person typing
    Japanese sees what Japanese still fits (3 bytes each), one typing English what English does."""
    if room_bytes <= 0:
        return 0
    last = text.rstrip()[-1:] or "a"
    return room_bytes // len(last.encode("utf-8"))


# argparse words its own usage lines and errors through its module's gettext; route them
# through our catalog so `ocm-chat --help` is in one language. Its strings are listed here
# for extraction (the msgids must match Python 3.11+'s argparse exactly).
ARGPARSE_WORDS = (
    N_("usage: "),
    N_("options"),
    N_("positional arguments"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("expected one argument"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
)


def translate_argparse() -> None:
    import argparse

    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]
