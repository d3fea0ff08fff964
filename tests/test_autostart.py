"""Start at login and the ocm: link handler (ocm_gui.autostart), for Linux, macOS and Windows.

Everything happens in a temporary HOME with the XDG variables pointed inside it. The
Windows branch runs here against FakeRegistry, an in-memory stand-in for the few winreg
functions the module uses (mypy checks the real winreg against the same Protocol).
"""

from __future__ import annotations

import ast
import configparser
import json
import plistlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocm_gui import autostart

ROOT = Path(__file__).resolve().parents[1]
# A path with a space, Japanese and characters the Desktop Entry spec reserves.
ODD_DIR = "Programs ($HOME) 'x' `y` \\ 100% チャット"
HKCU = "HKEY_CURRENT_USER"
RUN = r"Software\Microsoft\Windows\CurrentVersion\Run"
CLASSES_OCM = r"Software\Classes\ocm"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh HOME with no XDG variable set: nothing reaches the real user's folders."""
    home = tmp_path / "home"
    home.mkdir()
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    return home


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if not p.is_dir())


def read_desktop(path: Path) -> configparser.SectionProxy:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read_string(path.read_text(encoding="utf-8"))
    return entry["Desktop Entry"]


def split_exec(value: str) -> list[str]:
    """An Exec value back to its arguments, following the Desktop Entry spec (written apart from the module)."""
    string_escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    text = re.sub(r"\\(.)", lambda m: string_escapes[m.group(1)], value)  # an unknown escape is a KeyError
    args: list[str] = []
    current: str | None = None
    quoted = False
    chars = iter(text)
    for c in chars:
        if quoted:
            if c == "\\":
                c = next(chars)
                assert c in '"`$\\', f"escaped {c!r} inside quotes"
                current = (current or "") + c
            elif c == '"':
                quoted = False
            else:
                current = (current or "") + c
        elif c == " ":
            if current is not None:
                args.append(current)
            current = None
        elif c == '"':
            quoted, current = True, current or ""
        else:
            assert c not in " \t\n\"'\\><~|&;$*?#()`", f"reserved {c!r} outside quotes in {value!r}"
            current = (current or "") + c
    assert not quoted, value
    if current is not None:
        args.append(current)
    return [re.sub(r"%%", "%", arg) for arg in args]


# --- a stand-in for winreg ------------------------------------------------------------------------


class FakeKey:
    def __init__(self, path: str):
        self.path = path
        self.closed = False


class FakeRegistry:
    """HKEY_CURRENT_USER in memory; key names case-insensitive as on Windows."""

    HKEY_CURRENT_USER = 0x80000001
    KEY_QUERY_VALUE = 0x0001
    KEY_SET_VALUE = 0x0002
    KEY_WRITE = 0x20006
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[object, int]]] = {}
        self.handles: list[FakeKey] = []
        self.fail_writes: OSError | None = None

    def values(self, sub_key: str) -> dict[str, tuple[object, int]] | None:
        return self.keys.get(sub_key.lower())

    def _path(self, key: int, sub_key: str) -> str:
        assert key == self.HKEY_CURRENT_USER, "only HKEY_CURRENT_USER: nothing needs an administrator"
        return sub_key.lower()

    def _handle(self, path: str) -> FakeKey:
        handle = FakeKey(path)
        self.handles.append(handle)
        return handle

    def CreateKeyEx(self, key: int, sub_key: str, reserved: int = 0, access: int = KEY_WRITE) -> FakeKey:
        path = self._path(key, sub_key)
        parts = path.split("\\")
        for n in range(1, len(parts) + 1):
            self.keys.setdefault("\\".join(parts[:n]), {})
        return self._handle(path)

    def OpenKey(self, key: int, sub_key: str, reserved: int = 0, access: int = 0x20019) -> FakeKey:
        path = self._path(key, sub_key)
        if path not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self._handle(path)

    def SetValueEx(self, key: FakeKey, name: str | None, reserved: int, kind: int, value: str) -> None:
        assert not key.closed
        if self.fail_writes is not None:
            raise self.fail_writes
        assert isinstance(value, str) and kind == self.REG_SZ
        self.keys[key.path][name or ""] = (value, kind)

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[object, int]:
        assert not key.closed
        try:
            return self.keys[key.path][name]
        except KeyError:
            raise FileNotFoundError(2, "The system cannot find the file specified") from None

    def DeleteValue(self, key: FakeKey, name: str) -> None:
        assert not key.closed
        if name not in self.keys[key.path]:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del self.keys[key.path][name]

    def DeleteKey(self, key: int, sub_key: str) -> None:
        path = self._path(key, sub_key)
        if path not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        if any(other.startswith(path + "\\") for other in self.keys):
            raise PermissionError(13, "Access is denied")  # RegDeleteKey refuses a key with subkeys
        del self.keys[path]

    def CloseKey(self, key: FakeKey) -> None:
        key.closed = True


@pytest.fixture
def registry():
    fake = FakeRegistry()
    yield fake
    assert all(handle.closed for handle in fake.handles), "a registry key was left open"


# --- the command ------------------------------------------------------------------------------------


def test_the_one_file_app_runs_itself_and_a_source_install_its_module():
    assert autostart.app_command(frozen=True, executable="/opt/ocm/OnlineChatMessenger") == [
        "/opt/ocm/OnlineChatMessenger"
    ]
    assert autostart.app_command(frozen=False, executable="/usr/bin/python3") == ["/usr/bin/python3", "-m", "ocm_gui"]
    assert (ROOT / "ocm_gui" / "__main__.py").is_file()  # what `-m ocm_gui` runs


def test_by_default_the_command_is_this_python_running_the_module():
    assert autostart.app_command() == [sys.executable, "-m", "ocm_gui"]


@pytest.mark.parametrize(
    "argv",
    [
        ["/usr/bin/ocm"],
        [f"/home/太郎/{ODD_DIR}/OnlineChatMessenger", "--settings", "/tmp/a b/settings.json"],
        ["/x", "", "a\tb", "new\nline", 'say "hi"', "back\\slash", "$PATH", "50%", "%u", "~", "a;b", "#", "=ok"],
    ],
)
def test_an_exec_value_reads_back_as_the_same_arguments(argv):
    assert split_exec(autostart.desktop_exec(argv)) == argv


# --- start at login: Linux -------------------------------------------------------------------------


def test_linux_start_at_login_writes_an_autostart_entry_that_starts_in_the_background(home):
    command = [f"/home/太郎/{ODD_DIR}/OnlineChatMessenger"]

    assert not autostart.start_at_login_enabled(platform="linux")
    written = autostart.enable_start_at_login(command, platform="linux")

    assert written == home / ".config" / "autostart" / "online-chat-messenger.desktop"
    entry = read_desktop(written)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Online Chat Messenger"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["Terminal"] == "false"
    assert split_exec(entry["Exec"]) == [*command, "--background"]
    assert autostart.start_at_login_enabled(platform="linux")
    assert files_under(home) == [written]  # no temporary file left beside it
    assert written.stat().st_mode & 0o777 == 0o644


def test_linux_disable_removes_the_entry_and_twice_is_fine(home):
    written = autostart.enable_start_at_login(["/usr/bin/ocm"], platform="linux")
    autostart.disable_start_at_login(platform="linux")
    assert not Path(written).exists()
    assert not autostart.start_at_login_enabled(platform="linux")
    autostart.disable_start_at_login(platform="linux")
    assert files_under(home) == []


def test_enabling_again_replaces_the_entry_and_never_doubles_the_background_flag(home):
    autostart.enable_start_at_login(["/old/place/ocm"], platform="linux")
    written = autostart.enable_start_at_login(["/new/place/ocm", "--background"], platform="linux")
    assert split_exec(read_desktop(Path(written))["Exec"]) == ["/new/place/ocm", "--background"]


def test_xdg_config_home_wins_and_a_relative_one_is_ignored(home, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert autostart.enable_start_at_login(["/usr/bin/ocm"], platform="linux") == (
        tmp_path / "cfg" / "autostart" / "online-chat-messenger.desktop"
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/cfg")
    assert autostart.enable_start_at_login(["/usr/bin/ocm"], platform="linux") == (
        home / ".config" / "autostart" / "online-chat-messenger.desktop"
    )


def test_home_can_be_given_instead_of_the_environment(home, tmp_path):
    other = tmp_path / "other home"
    written = autostart.enable_start_at_login(["/usr/bin/ocm"], platform="linux", home=other)
    assert written == other / ".config" / "autostart" / "online-chat-messenger.desktop"
    assert autostart.start_at_login_enabled(platform="linux", home=other)
    assert not autostart.start_at_login_enabled(platform="linux")


@pytest.mark.parametrize("switch_off", ["X-GNOME-Autostart-enabled=false", "Hidden=true"])
def test_an_entry_the_desktop_switched_off_is_not_enabled(home, switch_off):
    written = Path(autostart.enable_start_at_login(["/usr/bin/ocm"], platform="linux"))
    text = written.read_text(encoding="utf-8").replace("X-GNOME-Autostart-enabled=true\n", "")
    written.write_text(text + switch_off + "\n", encoding="utf-8")
    assert not autostart.start_at_login_enabled(platform="linux")


def test_a_disk_error_reaches_the_caller_naming_the_file(home):
    (home / ".config").write_text("a file where the folder should be")
    with pytest.raises(OSError) as raised:
        autostart.enable_start_at_login(["/usr/bin/ocm"], platform="linux")
    assert str(home / ".config" / "autostart" / "online-chat-messenger.desktop") in str(raised.value)
    assert isinstance(raised.value, NotADirectoryError | FileExistsError)  # the kind of error is kept
    with pytest.raises(OSError, match="mimeapps.list"):
        autostart.register_link_handler(["/usr/bin/ocm"], platform="linux")


@pytest.mark.skipif(not shutil.which("gio"), reason="needs GLib's gio to launch a desktop entry")
def test_glib_runs_the_autostart_entry_with_exactly_these_arguments(home, tmp_path):
    """The real reader of desktop entries (GLib, as GNOME's session uses) agrees with the quoting."""
    folder = tmp_path / ODD_DIR
    folder.mkdir()
    script = folder / "record args.py"
    out = tmp_path / "argv.json"
    script.write_text(f"import json, sys\njson.dump(sys.argv[1:], open({str(out)!r}, 'w'))\n", encoding="utf-8")
    odd = 'it\'s "quoted" `tick` $HOME \\back 100% 日本語'
    written = autostart.enable_start_at_login([sys.executable, str(script), odd], platform="linux")

    result = subprocess.run(["gio", "launch", str(written)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 20
    while not out.exists() or not out.read_text():
        assert time.monotonic() < deadline, "the launched program never wrote its arguments"
        time.sleep(0.05)
    time.sleep(0.1)
    assert json.loads(out.read_text()) == [odd, "--background"]


# --- start at login: macOS -------------------------------------------------------------------------


def test_macos_start_at_login_writes_a_launch_agent(home):
    command = [f"/Applications/{ODD_DIR}/OnlineChatMessenger.app/Contents/MacOS/OnlineChatMessenger"]

    written = autostart.enable_start_at_login(command, platform="darwin")

    assert written == home / "Library" / "LaunchAgents" / "org.onlinechatmessenger.app.plist"
    agent = plistlib.loads(Path(written).read_bytes())
    assert agent["Label"] == "org.onlinechatmessenger.app"
    assert agent["ProgramArguments"] == [*command, "--background"]
    assert agent["RunAtLoad"] is True
    assert autostart.start_at_login_enabled(platform="darwin")
    assert files_under(home) == [written]

    autostart.disable_start_at_login(platform="darwin")
    assert not Path(written).exists() and not autostart.start_at_login_enabled(platform="darwin")
    autostart.disable_start_at_login(platform="darwin")


@pytest.mark.parametrize("content", [b"not a plist", b"<?xml version='1.0'?><plist><dict>", b""])
def test_macos_a_broken_launch_agent_is_not_enabled(home, content):
    written = Path(autostart.enable_start_at_login(["/x"], platform="darwin"))
    written.write_bytes(content)
    assert not autostart.start_at_login_enabled(platform="darwin")


def test_macos_links_need_nothing_at_run_time_the_bundle_declares_them(home):
    assert autostart.register_link_handler(["/x"], platform="darwin") is None
    autostart.unregister_link_handler(platform="darwin")
    assert files_under(home) == []


def test_the_bundles_info_plist_declares_the_ocm_scheme():
    tree = ast.parse((ROOT / "build.spec").read_text(encoding="utf-8"))
    plists = [
        ast.literal_eval(keyword.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "BUNDLE"
        for keyword in node.keywords
        if keyword.arg == "info_plist"
    ]
    assert len(plists) == 1
    assert [t["CFBundleURLSchemes"] for t in plists[0]["CFBundleURLTypes"]] == [["ocm"]]
    assert "NSLocalNetworkUsageDescription" in plists[0]


# --- start at login: Windows -------------------------------------------------------------------------


WINDOWS_APP = r"C:\Users\山田 太郎\AppData\Local\Programs\Online Chat Messenger\OnlineChatMessenger.exe"


def test_windows_start_at_login_is_a_run_value_with_a_quoted_command_line(registry):
    written = autostart.enable_start_at_login([WINDOWS_APP], platform="win32", registry=registry)

    assert written == rf"{HKCU}\{RUN}\OnlineChatMessenger"
    assert registry.values(RUN) == {"OnlineChatMessenger": (f'"{WINDOWS_APP}" --background', registry.REG_SZ)}
    assert autostart.start_at_login_enabled(platform="win32", registry=registry)


def test_windows_a_source_install_quotes_each_argument(registry):
    python = r"C:\Program Files\Python311\python.exe"
    autostart.enable_start_at_login([python, "-m", "ocm_gui"], platform="win32", registry=registry)
    value = registry.values(RUN)["OnlineChatMessenger"][0]
    assert value == f'"{python}" -m ocm_gui --background'
    assert value == subprocess.list2cmdline([python, "-m", "ocm_gui", "--background"])


def test_windows_disable_removes_only_our_value_and_twice_is_fine(registry):
    assert not autostart.start_at_login_enabled(platform="win32", registry=registry)  # no Run key at all
    autostart.disable_start_at_login(platform="win32", registry=registry)  # nothing there: fine
    key = registry.CreateKeyEx(registry.HKEY_CURRENT_USER, RUN, 0, registry.KEY_WRITE)
    registry.SetValueEx(key, "OtherApp", 0, registry.REG_SZ, r"C:\other.exe")
    registry.CloseKey(key)

    autostart.enable_start_at_login([WINDOWS_APP], platform="win32", registry=registry)
    autostart.disable_start_at_login(platform="win32", registry=registry)
    autostart.disable_start_at_login(platform="win32", registry=registry)

    assert registry.values(RUN) == {"OtherApp": (r"C:\other.exe", registry.REG_SZ)}
    assert not autostart.start_at_login_enabled(platform="win32", registry=registry)


def test_windows_a_registry_error_reaches_the_caller_naming_the_key(registry):
    registry.fail_writes = PermissionError(13, "Access is denied")
    with pytest.raises(PermissionError) as raised:
        autostart.enable_start_at_login([WINDOWS_APP], platform="win32", registry=registry)
    assert rf"{HKCU}\{RUN}" in str(raised.value)


def test_windows_without_winreg_says_so(home):
    if sys.platform == "win32":
        pytest.skip("this machine has the real registry")
    with pytest.raises(OSError, match="registry"):
        autostart.start_at_login_enabled(platform="win32")


# --- the ocm: link handler: Linux -------------------------------------------------------------------


OTHER_MIMEAPPS = """\
# kept as the person wrote it
[Default Applications]
text/html=firefox-esr.desktop
x-scheme-handler/ocm=someone-else.desktop
x-scheme-handler/mailto=thunderbird.desktop

[Added Associations]
image/png=gimp.desktop;org.gnome.eog.desktop;
"""


def test_linux_link_handler_is_a_hidden_entry_made_the_default(home):
    command = [f"/home/太郎/{ODD_DIR}/OnlineChatMessenger"]

    written = autostart.register_link_handler(command, platform="linux")

    assert written == home / ".local" / "share" / "applications" / "online-chat-messenger-link.desktop"
    entry = read_desktop(Path(written))
    assert entry["MimeType"] == "x-scheme-handler/ocm;"
    assert entry["NoDisplay"] == "true"
    assert split_exec(entry["Exec"]) == [*command, "%u"]
    mimeapps = home / ".config" / "mimeapps.list"
    assert mimeapps.read_text() == "[Default Applications]\nx-scheme-handler/ocm=online-chat-messenger-link.desktop\n"

    autostart.unregister_link_handler(platform="linux")
    assert files_under(home) == []  # the mimeapps.list it made held nothing else
    autostart.unregister_link_handler(platform="linux")


def test_linux_registering_keeps_every_other_line_of_mimeapps_list(home):
    mimeapps = home / ".config" / "mimeapps.list"
    mimeapps.parent.mkdir()
    mimeapps.write_text(OTHER_MIMEAPPS)

    autostart.register_link_handler(["/usr/bin/ocm"], platform="linux")

    assert mimeapps.read_text() == OTHER_MIMEAPPS.replace(
        "ocm=someone-else.desktop", "ocm=online-chat-messenger-link.desktop"
    )
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(mimeapps.read_text())
    assert parsed["Default Applications"]["x-scheme-handler/ocm"] == "online-chat-messenger-link.desktop"

    autostart.unregister_link_handler(platform="linux")
    assert mimeapps.read_text() == OTHER_MIMEAPPS.replace("x-scheme-handler/ocm=someone-else.desktop\n", "")
    assert not (home / ".local" / "share" / "applications" / "online-chat-messenger-link.desktop").exists()


@pytest.mark.parametrize(
    "before, after",
    [
        ("[Added Associations]\nimage/png=gimp.desktop;\n", None),  # no Default group: one is added
        ("[Default Applications]\ntext/html=firefox.desktop", None),  # no newline at the end
        ("[Default Applications]\ntext/html=firefox.desktop\n\n\n[Added Associations]\na/b=c.desktop;\n", None),
        ("[Default Applications]\nx-scheme-handler/ocm=a.desktop\nx-scheme-handler/ocm=b.desktop\n", ""),
    ],
)
def test_linux_registering_into_files_of_other_shapes(home, before, after):
    mimeapps = home / ".config" / "mimeapps.list"
    mimeapps.parent.mkdir()
    mimeapps.write_text(before)

    autostart.register_link_handler(["/usr/bin/ocm"], platform="linux")

    text = mimeapps.read_text()
    parsed = configparser.ConfigParser(interpolation=None, strict=True)
    parsed.read_string(text)  # strict: no key twice in a group
    assert parsed["Default Applications"]["x-scheme-handler/ocm"] == "online-chat-messenger-link.desktop"
    for line in before.splitlines():
        if line.strip() and not line.startswith("x-scheme-handler/ocm"):
            assert line in text.splitlines()
    assert "\n\n[Default Applications]" in text or text.startswith("[Default Applications]")
    autostart.unregister_link_handler(platform="linux")
    if after is not None:
        assert not mimeapps.exists()


def test_linux_unregister_leaves_a_handler_that_someone_else_set(home):
    mimeapps = home / ".config" / "mimeapps.list"
    autostart.register_link_handler(["/usr/bin/ocm"], platform="linux")
    mimeapps.write_text(
        "[Default Applications]\nx-scheme-handler/ocm=other.desktop\n\n"
        "[Added Associations]\nx-scheme-handler/ocm=other.desktop;online-chat-messenger-link.desktop;\n"
        "x-scheme-handler/ocm-not=online-chat-messenger-link.desktop;\n"
    )

    autostart.unregister_link_handler(platform="linux")

    assert mimeapps.read_text() == (
        "[Default Applications]\nx-scheme-handler/ocm=other.desktop\n\n"
        "[Added Associations]\nx-scheme-handler/ocm=other.desktop;\n"
        "x-scheme-handler/ocm-not=online-chat-messenger-link.desktop;\n"
    )


def test_linux_a_symlinked_mimeapps_list_stays_a_link(home, tmp_path):
    dotfiles = tmp_path / "dotfiles" / "mimeapps.list"
    dotfiles.parent.mkdir()
    dotfiles.write_text("[Default Applications]\ntext/html=firefox.desktop\n")
    link = home / ".config" / "mimeapps.list"
    link.parent.mkdir()
    link.symlink_to(dotfiles)

    autostart.register_link_handler(["/usr/bin/ocm"], platform="linux")
    assert link.is_symlink() and "x-scheme-handler/ocm=online-chat-messenger-link.desktop" in dotfiles.read_text()
    autostart.unregister_link_handler(platform="linux")
    assert link.is_symlink() and dotfiles.read_text() == "[Default Applications]\ntext/html=firefox.desktop\n"


def test_linux_xdg_data_home_holds_the_link_entry(home, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    written = autostart.register_link_handler(["/usr/bin/ocm"], platform="linux")
    assert written == tmp_path / "data" / "applications" / "online-chat-messenger-link.desktop"
    assert (tmp_path / "cfg" / "mimeapps.list").is_file()
    assert files_under(home) == []


# --- the ocm: link handler: Windows -----------------------------------------------------------------


def test_windows_link_handler_is_a_url_protocol_class(registry):
    written = autostart.register_link_handler([WINDOWS_APP], platform="win32", registry=registry)

    assert written == rf"{HKCU}\{CLASSES_OCM}"
    assert registry.values(CLASSES_OCM) == {
        "": ("URL:Online Chat Messenger link", registry.REG_SZ),
        "URL Protocol": ("", registry.REG_SZ),
    }
    assert registry.values(rf"{CLASSES_OCM}\shell\open\command") == {"": (f'"{WINDOWS_APP}" "%1"', registry.REG_SZ)}


def test_windows_unregister_removes_the_class_and_leaves_others(registry):
    other = registry.CreateKeyEx(registry.HKEY_CURRENT_USER, r"Software\Classes\mailto", 0, registry.KEY_WRITE)
    registry.SetValueEx(other, "", 0, registry.REG_SZ, "URL:MailTo Protocol")
    registry.CloseKey(other)
    autostart.register_link_handler(["python.exe", "-m", "ocm_gui"], platform="win32", registry=registry)
    assert registry.values(rf"{CLASSES_OCM}\shell\open\command") == {
        "": ('python.exe -m ocm_gui "%1"', registry.REG_SZ)
    }

    autostart.unregister_link_handler(platform="win32", registry=registry)
    autostart.unregister_link_handler(platform="win32", registry=registry)

    assert not [key for key in registry.keys if key.startswith(CLASSES_OCM.lower())]
    assert registry.values(r"Software\Classes\mailto") == {"": ("URL:MailTo Protocol", registry.REG_SZ)}
