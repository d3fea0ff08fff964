"""Settings: XDG_CONFIG_HOME honoured, atomic writes, corrupt files ignored with a log line."""

from __future__ import annotations

import json
import logging

import pytest

from ocm_gui import settings as settings_module
from ocm_gui.settings import Settings, default_path


def test_xdg_config_home_is_honoured(config_home):
    assert default_path() == config_home / "online-chat-messenger" / "settings.json"


def test_missing_file_gives_defaults(config_home):
    loaded = Settings.load()
    assert (loaded.name, loaded.server, loaded.tcp_port, loaded.udp_port) == ("", "", 9090, 9091)


def test_round_trip_keeps_unicode(config_home):
    Settings.load().update(name="山田太郎", server="192.168.1.20:9090", room="部屋", tcp_port=9100)
    path = default_path()
    assert json.loads(path.read_text(encoding="utf-8"))["name"] == "山田太郎"
    loaded = Settings.load()
    assert (loaded.name, loaded.server, loaded.room, loaded.tcp_port) == ("山田太郎", "192.168.1.20:9090", "部屋", 9100)
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temporary files left


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\x00\xff", ""])
def test_corrupt_file_is_ignored_with_a_log_line(config_home, caplog, content):
    path = default_path()
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="utf-8", errors="surrogateescape")
    with caplog.at_level(logging.WARNING, logger="ocm_gui.settings"):
        loaded = Settings.load()
    assert loaded.name == "" and loaded.tcp_port == 9090
    assert any("corrupt settings" in record.getMessage() for record in caplog.records)


def test_wrong_types_are_skipped_one_by_one(config_home, caplog):
    path = default_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"name": "Ann", "tcp_port": "9090", "udp_port": 9200}), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="ocm_gui.settings"):
        loaded = Settings.load()
    assert (loaded.name, loaded.tcp_port, loaded.udp_port) == ("Ann", 9090, 9200)
    assert any("tcp_port" in record.getMessage() for record in caplog.records)


def test_a_failed_write_leaves_the_old_file_whole(config_home, monkeypatch, caplog):
    Settings.load().update(name="old")
    path = default_path()
    before = path.read_bytes()

    def broken_dump(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(settings_module.json, "dump", broken_dump)
    with caplog.at_level(logging.WARNING, logger="ocm_gui.settings"):
        assert Settings.load().save() is False
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]
    assert any("could not save settings" in record.getMessage() for record in caplog.records)


def test_recent_servers_round_trip_and_a_bad_list_is_skipped(config_home, caplog):
    Settings.load().update(recent_servers=["192.168.1.20:9090", "10.0.0.5:9092"])
    assert Settings.load().recent_servers == ["192.168.1.20:9090", "10.0.0.5:9092"]
    default_path().write_text(json.dumps({"recent_servers": ["a:1", 7]}), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="ocm_gui.settings"):
        assert Settings.load().recent_servers == []
    assert any("recent_servers" in record.getMessage() for record in caplog.records)
