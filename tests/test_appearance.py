"""What the system prefers, light or dark, asked on each platform: the parsers of what gdbus,
`defaults` and the registry answer, and `system_prefers_dark` with a fake `run` and registry,
so every platform's branch is tested on any machine."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager

import pytest

from ocm_gui import appearance
from ocm_gui.appearance import (
    APPEARANCE_CHOICES,
    PORTAL_COMMAND,
    PORTAL_READ_COMMAND,
    colour_scheme_prefers_dark,
    macos_prefers_dark,
    parse_portal_reply,
    system_prefers_dark,
    windows_prefers_dark,
)

BUS = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus"}


@pytest.mark.parametrize(
    "output, expected",
    [
        ("(<uint32 1>,)\n", 1),  # ReadOne
        ("(<uint32 2>,)", 2),
        ("(<uint32 0>,)", 0),
        ("(<<uint32 1>>,)\n", 1),  # Read: a variant in a variant
        ("  ( < uint32 1 > , )  ", 1),
        ("(<uint32 1>)", 1),  # without the one-tuple's comma
    ],
)
def test_the_portal_reply_gives_its_number(output, expected):
    assert parse_portal_reply(output) == expected


@pytest.mark.parametrize(
    "output",
    [
        "",
        "()",
        "(<uint32 1>>,)",  # unbalanced
        "(<<uint32 1>,)",
        "(<<<uint32 1>>>,)",  # deeper than Read ever answers
        "(<int32 1>,)",
        "(<uint32 -1>,)",
        "(<'prefer-dark'>,)",
        "(<uint32 1>, <uint32 2>)",
        "Error: GDBus.Error:org.freedesktop.portal.Error.NotFound: Requested setting not found",
        "(<uint32 1>,) trailing",
    ],
)
def test_a_malformed_portal_reply_is_no_number(output):
    assert parse_portal_reply(output) is None


@pytest.mark.parametrize("value, expected", [(1, True), (2, False), (0, False), (3, None), (None, None)])
def test_the_colour_scheme_number_says_dark_light_or_nothing(value, expected):
    assert colour_scheme_prefers_dark(value) is expected


class FakeRun:
    """Stands in for subprocess.run: answers each command by its method (or its program) with
    (returncode, stdout), or raises what it is given; remembers every call."""

    def __init__(self, answers):
        self.answers = answers
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, command, **kwargs):
        self.calls.append((command, kwargs))
        key = next((part for part in command if part.startswith("org.freedesktop.portal.Settings.")), command[0])
        answer = self.answers[key]
        if isinstance(answer, BaseException):
            raise answer
        returncode, stdout = answer
        return subprocess.CompletedProcess(command, returncode, stdout, "" if returncode == 0 else "an error")


READ_ONE = "org.freedesktop.portal.Settings.ReadOne"
READ = "org.freedesktop.portal.Settings.Read"


def test_linux_asks_the_portal_with_read_one_within_a_second():
    run = FakeRun({READ_ONE: (0, "(<uint32 1>,)\n")})
    assert system_prefers_dark("linux", run, environ=BUS) is True
    [(command, kwargs)] = run.calls
    assert command == list(PORTAL_COMMAND)
    assert command[:3] == ["gdbus", "call", "--session"]
    assert command[-2:] == ["org.freedesktop.appearance", "color-scheme"]
    assert kwargs["timeout"] == 1.0 and kwargs["capture_output"] and kwargs["text"]


def test_linux_falls_back_to_read_on_an_older_portal():
    run = FakeRun({READ_ONE: (1, ""), READ: (0, "(<<uint32 2>>,)\n")})
    assert system_prefers_dark("linux", run, environ=BUS) is False
    assert [command for command, _ in run.calls] == [list(PORTAL_COMMAND), list(PORTAL_READ_COMMAND)]


@pytest.mark.parametrize(
    "answers",
    [
        {READ_ONE: FileNotFoundError(2, "No such file or directory: 'gdbus'")},  # gdbus is not installed
        {READ_ONE: subprocess.TimeoutExpired(["gdbus"], 1.0)},  # the bus does not answer in time
        {READ_ONE: (1, ""), READ: (1, "")},  # no portal on the bus, or no appearance in it
        {READ_ONE: (0, "(<uint32 7>,)")},
        {READ_ONE: (0, "garbage")},
    ],
    ids=["gdbus-missing", "timeout", "no-portal", "unknown-number", "malformed"],
)
def test_linux_cannot_tell_without_gdbus_or_a_portal(answers):
    assert system_prefers_dark("linux", FakeRun(answers), environ=BUS) is None


def test_linux_without_a_session_bus_does_not_run_gdbus(tmp_path):
    run = FakeRun({})
    assert system_prefers_dark("linux", run, environ={}) is None
    assert system_prefers_dark("linux", run, environ={"XDG_RUNTIME_DIR": str(tmp_path)}) is None
    assert run.calls == []
    (tmp_path / "bus").touch()  # the bus at its usual place, without the variable
    run = FakeRun({READ_ONE: (0, "(<uint32 1>,)")})
    assert system_prefers_dark("freebsd14", run, environ={"XDG_RUNTIME_DIR": str(tmp_path)}) is True


@pytest.mark.parametrize(
    "returncode, output, expected",
    [
        (0, "Dark\n", True),
        (1, "", False),  # "The domain/default pair of (…, AppleInterfaceStyle) does not exist"
        (0, "Light\n", False),
        (0, "", False),
    ],
)
def test_macos_reads_apple_interface_style(returncode, output, expected):
    assert macos_prefers_dark(returncode, output) is expected
    run = FakeRun({"defaults": (returncode, output)})
    assert system_prefers_dark("darwin", run) is expected
    assert run.calls[0][0] == ["defaults", "read", "-g", "AppleInterfaceStyle"]
    assert run.calls[0][1]["timeout"] == 1.0


def test_macos_cannot_tell_without_defaults():
    assert system_prefers_dark("darwin", FakeRun({"defaults": FileNotFoundError(2, "defaults")})) is None
    assert system_prefers_dark("darwin", FakeRun({"defaults": subprocess.TimeoutExpired(["defaults"], 1)})) is None


class FakeRegistry:
    """What winreg offers, over a dict of {(key path, value name): value}."""

    HKEY_CURRENT_USER = 0x80000001

    def __init__(self, values):
        self.values = values
        self.opened: list[tuple[int, str]] = []
        self.closed = 0

    @contextmanager
    def _key(self, path):
        try:
            yield path
        finally:
            self.closed += 1

    def OpenKey(self, key, sub_key, /):
        self.opened.append((key, sub_key))
        if not any(path == sub_key for path, _ in self.values):
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self._key(sub_key)

    def QueryValueEx(self, key, name, /):
        if (key, name) not in self.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self.values[(key, name)], 4  # REG_DWORD


PERSONALIZE = r"Software\Microsoft\Windows\CurrentVersion\Themes\Personalize"


@pytest.mark.parametrize("value, expected", [(0, True), (1, False)])
def test_windows_reads_apps_use_light_theme(value, expected):
    registry = FakeRegistry({(PERSONALIZE, "AppsUseLightTheme"): value})
    assert system_prefers_dark("win32", registry=registry) is expected
    assert registry.opened == [(FakeRegistry.HKEY_CURRENT_USER, PERSONALIZE)]
    assert registry.closed == 1


def test_windows_cannot_tell_without_the_key_or_the_value():
    assert system_prefers_dark("win32", registry=FakeRegistry({})) is None  # Windows before 10
    registry = FakeRegistry({(PERSONALIZE, "SystemUsesLightTheme"): 0})  # the key, not our value
    assert system_prefers_dark("win32", registry=registry) is None
    assert registry.closed == 1


@pytest.mark.parametrize("value", ["0", None, b"\x00", True])
def test_windows_odd_values_say_nothing(value):
    assert windows_prefers_dark(value) is None
    assert system_prefers_dark("win32", registry=FakeRegistry({(PERSONALIZE, "AppsUseLightTheme"): value})) is None


@pytest.mark.skipif(sys.platform == "win32", reason="there, the real registry is read")
def test_windows_branch_elsewhere_has_no_registry_and_runs_nothing():
    run = FakeRun({})
    assert system_prefers_dark("win32", run) is None
    assert run.calls == []


def test_the_choices_a_menu_offers():
    assert [key for key, _label in APPEARANCE_CHOICES] == ["system", "light", "dark"]
    assert dict(APPEARANCE_CHOICES)["system"] == "Same as the system"  # N_: translated where shown
    assert appearance.CHOICES == ("system", "light", "dark")
