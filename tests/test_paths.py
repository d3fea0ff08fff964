"""Where files live on each platform (ocm_core.paths), tested here for all three.

platformdirs' Windows class asks the OS for its known folders; the tests stand in for
that lookup, so the Windows branch runs on Linux too. macOS and Linux derive from HOME.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs.windows
import pytest

from ocm_core import paths
from ocm_core.storage.roomstore import default_db_path

APP = "online-chat-messenger"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh HOME with no XDG variable set, and Windows' known folders inside it."""
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))  # what Path.home() reads on Windows
    known = {
        "CSIDL_APPDATA": tmp_path / "AppData" / "Roaming",
        "CSIDL_LOCAL_APPDATA": tmp_path / "AppData" / "Local",
        "CSIDL_DOWNLOADS": tmp_path / "Downloads",
    }
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", lambda csidl: str(known[csidl]))
    return tmp_path


def test_linux_uses_the_xdg_defaults(home):
    assert paths.config_dir("linux") == home / ".config" / APP
    assert paths.data_dir("linux") == home / ".local" / "share" / APP
    assert paths.log_dir("linux") == home / ".local" / "state" / APP / "log"


def test_windows_keeps_settings_in_roaming_appdata_and_data_in_local(home):
    assert paths.config_dir("win32") == home / "AppData" / "Roaming" / APP
    assert paths.data_dir("win32") == home / "AppData" / "Local" / APP
    assert paths.log_dir("win32") == home / "AppData" / "Local" / APP / "Logs"


def test_macos_uses_application_support_and_logs(home):
    assert paths.config_dir("darwin") == home / "Library" / "Application Support" / APP
    assert paths.data_dir("darwin") == home / "Library" / "Application Support" / APP
    assert paths.log_dir("darwin") == home / "Library" / "Logs" / APP


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_xdg_variables_win_on_every_platform(home, monkeypatch, platform):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    assert paths.config_dir(platform) == home / "cfg" / APP
    assert paths.data_dir(platform) == home / "data" / APP
    assert paths.log_dir(platform) == home / "state" / APP / "log"


def test_a_database_left_in_the_old_place_is_used_while_the_new_place_has_none(home):
    old = home / ".local" / "share" / APP / "server.db"
    new = paths.data_dir("darwin") / "server.db"
    assert paths.existing_or_legacy(new, paths.legacy_data_dirs()) == new  # nothing anywhere: the new place
    old.parent.mkdir(parents=True)
    old.write_bytes(b"rooms")
    assert paths.existing_or_legacy(new, paths.legacy_data_dirs()) == old
    new.parent.mkdir(parents=True)
    new.write_bytes(b"newer rooms")
    assert paths.existing_or_legacy(new, paths.legacy_data_dirs()) == new  # once there is one, it wins


def test_with_xdg_data_home_set_the_old_home_directory_is_not_consulted(home, monkeypatch):
    old = home / ".local" / "share" / APP / "server.db"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"rooms")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "elsewhere"))
    assert default_db_path() == home / "elsewhere" / APP / "server.db"


def test_on_linux_the_database_stays_where_it_always_was(home):
    assert default_db_path() == home / ".local" / "share" / APP / "server.db"


def test_settings_follow_the_config_dir(home, monkeypatch):
    from ocm_gui.settings import default_path

    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "cfg"))
    assert default_path() == home / "cfg" / APP / "settings.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_path() == Path(paths.config_dir()) / "settings.json"


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_downloads_go_to_the_users_downloads_folder(home, platform, monkeypatch):
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    assert paths.downloads_dir(platform) == home / "Downloads"


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_one_folder_given_in_ocm_home_holds_everything_on_every_platform(home, platform, monkeypatch):
    scripts = home / "scratch"
    monkeypatch.setenv("OCM_HOME", str(scripts))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))  # the override wins over XDG too
    (home / ".local" / "share" / APP).mkdir(parents=True)
    (home / ".local" / "share" / APP / "server.db").write_bytes(b"")  # and over an old database
    assert paths.config_dir(platform) == scripts / "config"
    assert paths.data_dir(platform) == scripts / "data"
    assert paths.log_dir(platform) == scripts / "log"
    assert paths.downloads_dir(platform) == scripts / "downloads"
    assert paths.legacy_data_dirs() == []
    assert default_db_path() == scripts / "data" / "server.db"
    monkeypatch.setenv("OCM_HOME", "  ")  # blank: as if unset
    assert paths.data_dir(platform) == home / "xdg-data" / APP
