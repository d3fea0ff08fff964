"""Tk's own dialogs in the person's language: on X11, the file chooser (Open, Save as, Choose
folder) and the message boxes are Tk's, worded through Tcl's msgcat, and Tk carries no Japanese.
Windows and macOS draw their own dialogs, in the system's language, so there nothing is needed.

`speak(root, language)` sets msgcat's locale for Tk and, for Japanese, Tk's strings as ours.
The keys are Tk's (its msgs/en.msg); "&" marks the letter Alt+ reaches, as Tk's own do.
"""

from __future__ import annotations

import logging
import tkinter as tk

log = logging.getLogger(__name__)

JAPANESE = {
    "&Abort": "中止(&A)",
    "All Files": "すべてのファイル",
    "Cancel": "キャンセル",
    "&Cancel": "キャンセル(&C)",
    'Cannot change to the directory "%1$s".\nPermission denied.': (
        "フォルダー「%1$s」に移動できません。\nアクセスが許可されていません。"
    ),
    "Choose Directory": "フォルダーを選ぶ",
    "Details >>": "詳細 >>",
    'Directory "%1$s" does not exist.': "フォルダー「%1$s」はありません。",
    "&Directory:": "フォルダー(&D):",
    "Error: %1$s": "エラー: %1$s",
    'File "%1$s" already exists.\nDo you want to overwrite it?': (
        "ファイル「%1$s」はすでにあります。\n上書きしますか？"
    ),
    'File "%1$s" already exists.\n\n': "ファイル「%1$s」はすでにあります。\n\n",
    'File "%1$s" does not exist.': "ファイル「%1$s」はありません。",
    "File &name:": "ファイル名(&N):",
    "File &names:": "ファイル名(&N):",
    "Files of &type:": "ファイルの種類(&T):",
    "Fi&les:": "ファイル(&L):",
    "&Filter": "絞り込み(&F)",
    "Fil&ter:": "絞り込み(&T):",
    "&Ignore": "無視(&I)",
    'Invalid file name "%1$s".': "「%1$s」はファイル名として使えません。",
    "&No": "いいえ(&N)",
    "&OK": "OK(&O)",
    "OK": "OK",
    "Ok": "OK",
    "Open": "開く",
    "&Open": "開く(&O)",
    "Open Multiple Files": "複数のファイルを開く",
    "Replace existing file?": "既存のファイルを置き換えますか？",
    "&Retry": "再試行(&R)",
    "&Save": "保存(&S)",
    "Save As": "名前を付けて保存",
    "&Selection:": "選択(&S):",
    "Show &Hidden Directories": "隠しフォルダーを表示(&H)",
    "Show &Hidden Files and Directories": "隠しファイルとフォルダーを表示(&H)",
    "Text Files": "テキストファイル",
    "&Yes": "はい(&Y)",
}

TRANSLATIONS = {"ja": JAPANESE}


def speak(root: tk.Misc, language: str) -> None:
    """Word Tk's dialogs on X11 in `language` ("en", "ja"); elsewhere the system words them."""
    try:
        if root.tk.call("tk", "windowingsystem") != "x11":
            return
        root.tk.call("package", "require", "msgcat")
        words = TRANSLATIONS.get(language, {})
        for key, value in words.items():
            # In Tk's namespace, where its dialogs look their words up. A command given as a list
            # is run with each word as it is: no "$" or "\n" in them is read by Tcl.
            root.tk.call("namespace", "eval", "::tk", ("::msgcat::mcset", language, key, value))
        root.tk.call("::msgcat::mclocale", language)
    except tk.TclError as exc:  # a Tk without msgcat: its dialogs stay in English
        log.info("Tk's dialogs keep their own words: %s", exc)


def word(root: tk.Misc, key: str) -> str:
    """What Tk's dialogs now show for `key` (its msgcat lookup), for tests."""
    return str(root.tk.call("namespace", "eval", "::tk", ("::msgcat::mc", key)))
