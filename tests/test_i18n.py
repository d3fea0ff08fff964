"""Catalogs complete and fresh, placeholders matching, the language picked as the system
asks, and lengths told in characters. The Japanese windows are checked in tests/gui."""

from __future__ import annotations

import ast
import gettext
import io
import os
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from ocm_core import i18n
from ocm_core.cli import chat as chat_cli
from ocm_core.cli import server as server_cli
from ocm_core.i18n import _, chars_left, chars_over, ngettext
from ocm_gui.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}  # what scripts/update-translations.sh passes


def catalog(language: str):
    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as fh:
        return read_po(fh)


def code_messages() -> set[str | tuple[str, str]]:
    """Every msgid wrapped in _(), N_() or ngettext() in the two packages, as Babel sees them;
    a plural as its (singular, plural) pair, since gettext answers with the catalogue's plural."""
    found: set[str | tuple[str, str]] = set()
    for package in ("ocm_core", "ocm_gui"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / package), method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(tuple(message) if isinstance(message, tuple) else message)
    return found


def placeholders(text: str) -> list[str]:
    """The brace fields ({name}, {count:,}) and %-conversions (%s, %(prog)s) in a message."""
    braces = [f"{{{name}:{spec}}}" for _lit, name, spec, _conv in string.Formatter().parse(text) if name is not None]
    percents = re.findall(r"%(?:\(\w+\))?[sdrifg]", text)
    return sorted(braces + percents)


@pytest.mark.source_text
@pytest.mark.parametrize("language", sorted(i18n.LANGUAGES))
def test_every_message_in_the_code_is_in_the_catalog(language):
    ids = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog(language) if m.id}
    missing = code_messages() - ids
    assert not missing, f"run scripts/update-translations.sh and translate: {sorted(map(str, missing))}"
    assert len(ids) > 150


@pytest.mark.parametrize("language", sorted(i18n.LANGUAGES))
def test_no_entry_is_fuzzy_empty_or_obsolete(language):
    cat = catalog(language)
    assert not cat.obsolete
    for message in cat:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert strings and all(s.strip() for s in strings), f"untranslated in {language}: {message.id!r}"


@pytest.mark.parametrize("language", sorted(i18n.LANGUAGES))
def test_placeholders_match_between_source_and_translation(language):
    for message in catalog(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = placeholders(ids[-1])
        assert placeholders(ids[0]) == wanted, f"singular and plural differ: {ids}"
        for translated in strings:
            assert placeholders(translated) == wanted, f"{language}: {message.id!r} -> {translated!r}"


def test_japanese_has_one_plural_form_and_english_two():
    assert catalog("ja").num_plurals == 1
    assert catalog("en").num_plurals == 2


@pytest.mark.source_text
@pytest.mark.parametrize("language", sorted(i18n.LANGUAGES))
def test_compiled_catalog_is_fresh(language):
    """The committed .mo says what its .po says (run scripts/update-translations.sh compile)."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog(language))
    buffer.seek(0)
    expected = gettext.GNUTranslations(buffer)
    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo").open("rb") as fh:
        committed = gettext.GNUTranslations(fh)
    # The header ("" entry) is left out: Babel fills in dates when it reads a .po without them.
    assert {k: v for k, v in committed._catalog.items() if k != ""} == {
        k: v for k, v in expected._catalog.items() if k != ""
    }  # type: ignore[attr-defined]
    assert [committed.ngettext("a", "b", n) for n in (1, 2)] == [expected.ngettext("a", "b", n) for n in (1, 2)]


@pytest.mark.source_text
def test_the_one_file_build_collects_the_compiled_catalogs():
    hooks = pytest.importorskip("PyInstaller.utils.hooks")
    data = {Path(src).relative_to(ROOT).as_posix() for src, _dest in hooks.collect_data_files("ocm_core")}
    for language in i18n.LANGUAGES:
        assert f"ocm_core/locale/{language}/LC_MESSAGES/ocm.mo" in data
    assert 'collect_data_files("ocm_core")' in (ROOT / "build.spec").read_text()


# --- which language -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),  # no French catalog: English
        ({"LANGUAGE": "fr:ja", "LANG": "en_US.UTF-8"}, "ja"),  # LANGUAGE lists preferences in order
        ({"LC_ALL": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LC_MESSAGES": "en_GB.UTF-8", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"LANGUAGE": "", "LC_ALL": "", "LANG": "ja_JP.eucJP"}, "ja"),
        ({"LANG": "ja-JP"}, "ja"),
    ],
)
def test_language_from_the_environment(environ, expected, monkeypatch):
    monkeypatch.setattr(i18n, "_macos_preferred", lambda: "")  # only the variables count here
    assert i18n.pick_language("", environ, platform="linux") == expected
    assert i18n.pick_language("", environ, platform="darwin") == expected


def test_the_settings_choice_wins_over_the_system():
    assert i18n.pick_language("ja", {"LANG": "en_US.UTF-8"}, platform="linux") == "ja"
    assert i18n.pick_language("en", {"LANG": "ja_JP.UTF-8"}, platform="linux") == "en"
    assert i18n.pick_language("xx", {"LANG": "ja_JP.UTF-8"}, platform="linux") == "ja"  # unknown choice: ignored


def test_windows_asks_for_the_user_interface_language(monkeypatch):
    assert i18n.windows_languages(0x0411) == ["ja_JP"]
    assert i18n.windows_languages(0x0409) == ["en_US"]
    assert i18n.windows_languages(0x7FFF) == []
    monkeypatch.setattr(i18n, "_windows_ui_langid", lambda: 0x0411)
    assert i18n.pick_language("", {}, platform="win32") == "ja"
    assert i18n.pick_language("", {"LANG": "en_US"}, platform="win32") == "en"  # a set variable still wins
    assert i18n.pick_language("", {}, platform="linux") == "en"  # only Windows asks
    monkeypatch.setattr(i18n, "_windows_ui_langid", lambda: None)
    assert i18n.pick_language("", {}, platform="win32") == "en"


def test_macos_without_variables_asks_for_the_users_language_list(monkeypatch):
    assert i18n.macos_languages('(\n    "ja-JP",\n    "en-JP"\n)\n') == ["ja-JP", "en-JP"]
    assert i18n.macos_languages("") == []
    monkeypatch.setattr(i18n, "_macos_preferred", lambda: '(\n    "fr-FR",\n    "ja-JP"\n)\n')
    assert i18n.pick_language("", {}, platform="darwin") == "ja"
    assert i18n.pick_language("", {"LANG": "en_US.UTF-8"}, platform="darwin") == "en"
    assert i18n.pick_language("", {}, platform="linux") == "en"
    monkeypatch.setattr(i18n, "_macos_preferred", lambda: "")
    assert i18n.pick_language("", {}, platform="darwin") == "en"


def test_reading_the_windows_language_on_another_platform_gives_nothing():
    if sys.platform != "win32":
        assert i18n._windows_ui_langid() is None
    else:
        assert isinstance(i18n._windows_ui_langid(), int)


def test_switching_language_changes_later_words_and_plurals():
    assert i18n.use_language("ja") == "ja"
    assert _("Send") == "送信"
    one, many = "You are in {count} room; pick it on the left.", "You are in {count} rooms; pick one on the left."
    assert (
        ngettext(one, many, 1) == ngettext(one, many, 5) == "{count} 個のルームに参加しています。左から選んでください。"
    )
    assert i18n.use_language("en") == "en"
    assert _("Send") == "Send"
    assert ngettext(one, many, 1) == one
    assert ngettext(one, many, 2) == many


def test_a_missing_catalog_falls_back_to_english(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    assert i18n.use_language("ja") == "en"
    assert _("Send") == "Send"
    assert "no ja catalog" in caplog.text


def test_the_language_setting_is_kept(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings.load(path)
    assert settings.language == ""
    settings.update(language="ja")
    assert Settings.load(path).language == "ja"


# --- the terminal tools -----------------------------------------------------------------------


def japanese_environment(monkeypatch):
    for name in i18n.ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")


def test_ocm_chat_speaks_japanese_in_a_japanese_environment(monkeypatch, capsys):
    japanese_environment(monkeypatch)
    with pytest.raises(SystemExit):
        chat_cli.chat_main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("使い方: ocm-chat")
    assert "オプション:" in out and "このルームに参加する" in out
    assert chat_cli.chat_main(["--server", "bad address:x", "--join", "a", "--name", "b"]) == 1
    assert "サーバーのアドレスではありません" in capsys.readouterr().err


def test_ocm_server_errors_and_notices_in_japanese(monkeypatch, capsys):
    japanese_environment(monkeypatch)
    with pytest.raises(SystemExit):
        server_cli.server_main(["--max-rooms", "many"])
    assert "ocm-server: エラー: 引数 --max-rooms:" in capsys.readouterr().err
    from ocm_core.sansio import events as ev

    assert chat_cli.describe(ev.Notice(1, "joined", "花子", "", 0.0)) == "* 花子 さんが参加しました。"
    assert chat_cli.describe(ev.MembersChanged(("花子", "Bob"), "花子")) == "* ルームにいる人: 花子（ホスト）、Bob"


@pytest.mark.slow
def test_ocm_server_prints_its_operator_lines_in_japanese(tmp_path):
    env = {**os.environ, "LANG": "ja_JP.UTF-8", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocm_core", "--no-db", "--tcp-port", "0", "--udp-port", "0", "--host", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert "で待ち受けています" in first, first
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode in (0, -15), err


# --- lengths as people count them ------------------------------------------------------------


@pytest.mark.parametrize(
    "text, excess, expected",
    [
        ("hello", 0, 0),
        ("hello", -3, 0),
        ("hello", 1, 1),
        ("hello", 2, 2),
        ("日本語", 1, 1),  # one kana or kanji saves three bytes
        ("日本語", 3, 1),
        ("日本語", 4, 2),
        ("ab日", 4, 2),
        ("a😀", 4, 1),  # an emoji is four bytes
    ],
)
def test_characters_to_cut(text, excess, expected):
    assert chars_over(text, excess) == expected
    if 0 < excess <= len(text.encode()):
        kept = text[: len(text) - expected]
        assert len(text.encode()) - len(kept.encode()) >= excess  # enough cut
        assert len(text.encode()) - len(text[: len(kept) + 1].encode()) < excess  # and no more


@pytest.mark.parametrize(
    "text, room, expected",
    [
        ("", 30, 30),  # nothing typed yet: as many Latin letters as bytes
        ("abc", 30, 30),
        ("日本", 30, 10),  # typing Japanese: three bytes a character
        ("日本 ", 30, 10),  # a trailing space does not change what is being typed
        ("a😀", 30, 7),
        ("日本", 2, 0),
        ("abc", 0, 0),
        ("abc", -5, 0),
    ],
)
def test_characters_left(text, room, expected):
    assert chars_left(text, room) == expected


# --- no words left outside the catalog ------------------------------------------------------

SHOWN_KEYWORDS = {"text", "help", "description", "epilog", "hint"}
SHOWN_CALLS = {
    "print",
    "show_error",
    "show_hint",
    "show",
    "set_busy",
    "title",
    "_say",
    "_ask",
    "line_entry",
    "set",
    "field",
}
DIALOG_CALLS = {"askyesno", "askokcancel", "showinfo", "showwarning", "showerror"}  # every argument is shown
ALLOWED_LITERALS = {"TCP", "UDP", "OK"}
# The self-test's one-line verdict stays English: build scripts and CI logs read it.
EXEMPT_PREFIXES = ("self-test ",)


def _words_in(node) -> str:
    """The literal words in a str constant or f-string, '' if none or if it is wrapped in _()."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    else:
        return ""
    if text.strip() in ALLOWED_LITERALS or text.startswith(EXEMPT_PREFIXES):
        return ""
    return text if re.search(r"[A-Za-z]{3,}", text) else ""


def unwrapped_texts(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        candidates = [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
        if name in SHOWN_CALLS and node.args:
            candidates.append(node.args[0])
        if name in DIALOG_CALLS:
            candidates += node.args
        for candidate in candidates:
            words = _words_in(candidate)
            if words:
                found.append(f"{path.name}:{candidate.lineno}: {words!r}")
    return found


@pytest.mark.source_text
def test_every_shown_literal_goes_through_the_catalog():
    """A label, button, help text, error line or printed line given as a bare literal is a
    string nobody can translate: wrap it in _() (see the README's Languages section)."""
    files = sorted((ROOT / "ocm_gui").rglob("*.py")) + sorted((ROOT / "ocm_core" / "cli").glob("*.py"))
    found = [hit for path in files if path.name != "selftest.py" for hit in unwrapped_texts(path)]
    assert not found, "\n".join(found)


def test_a_name_the_server_would_refuse_is_refused_first_in_the_persons_language(monkeypatch):
    from ocm_core import errors
    from ocm_core.net.client import ChatClient
    from ocm_core.wire import Status, names
    from ocm_core.words import name_refusal_wire, refusal_text

    japanese_environment(monkeypatch)
    i18n.use_language()
    client = ChatClient("127.0.0.1", 1)  # nothing listens there: the refusal comes before any request
    with pytest.raises(
        errors.BadRequest, match="^名前に、見た目の似た別の文字体系の文字が混ざっています（cyrillic, latin）"
    ):
        client.join_room("lobby", "\u0430na")
    with pytest.raises(errors.BadRequest, match="^ルーム名に、目に見えない文字か文字の向きを変える文字（U\\+202E）"):
        client.create_room("\u202elobby", "ana")
    # and the server's English reason, from an older client's point of view, reads in Japanese too
    wire = name_refusal_wire(names.refusal("ana\u200b"), room=False)
    assert (
        refusal_text(Status.BAD_REQUEST, wire)
        == "名前に、目に見えない文字か文字の向きを変える文字（U+200B）が含まれています。入力し直してください。"
    )


def test_a_wait_the_server_asks_for_is_said_in_the_persons_language(monkeypatch):
    from ocm_core.wire import Status
    from ocm_core.words import ROOMS_TOO_FAST, UNHEARD_MEMBERS, refusal_text

    japanese_environment(monkeypatch)
    i18n.use_language()
    assert refusal_text(Status.TRY_LATER, ROOMS_TOO_FAST, seconds=6) == (
        "このコンピューターから開けるルームの数がいまは上限に達しています。6 秒後にもう一度お試しください。"
    )
    assert refusal_text(Status.TRY_LATER, UNHEARD_MEMBERS.format(count=32), seconds=2).startswith(
        "同じアドレスから参加してまだ話し始めていない人が多すぎます。2 秒後"
    )
    assert "パスワード" in refusal_text(Status.TRY_LATER, "checking passwords", seconds=3)
