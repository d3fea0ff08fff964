"""The app as separate processes, as the system starts it: a second launch with an invite
link hands it to the running copy, which joins; a logout's SIGTERM leaves every room properly
and keeps the rooms for the next start, which joins them again without a question."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gui_helpers import pump
from support import wait_until

from ocm_core.crypto.identity import KnownServers, ServerIdentity
from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer
from ocm_core.storage.history import HistoryStore
from ocm_core.wire.links import InviteLink
from ocm_gui import app as app_module
from ocm_gui import single_instance
from ocm_gui.inbox import inbox_for

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def office(tmp_path):
    """A headless server with room "office" hosted by Ann, and its invite link."""
    with ChatServer("127.0.0.1", 0, 0, identity=ServerIdentity.generate()) as server:
        host = ChatClient("127.0.0.1", server.tcp_address[1], known_servers=KnownServers(tmp_path / "host.json"))
        host.create_room("office", "Ann")
        link = InviteLink("127.0.0.1", server.tcp_address[1], "office", server.fingerprint).text
        yield host, link
        host.leave()


def app_env(config_home: Path, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        XDG_CONFIG_HOME=str(config_home),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
    )
    return env


def test_a_second_launch_with_a_link_joins_in_the_running_copy(root, settings, config_home, tmp_path, office):
    host, link = office
    app = app_module.App(root, settings=settings)
    inbox = inbox_for(root)
    primary = single_instance.claim(
        app_module.instance_dir(), lambda args: inbox.put(app_module.LaunchedAgain(tuple(args)))
    )
    assert primary is not None
    try:
        started = time.monotonic()
        second = subprocess.Popen(
            [sys.executable, "-m", "ocm_gui", "--name", "Bo", link],
            env=app_env(config_home, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        pump(root, lambda: second.poll() is not None, timeout=20, what="the second launch to end")
        took = time.monotonic() - started
        output = second.stdout.read().decode() if second.stdout else ""
        assert second.returncode == 0, output
        print(f"[second launch] handed the link over and ended in {took * 1000:.0f} ms (Python start included)")
        prompt = pump(root, lambda: app.link_prompt, what="the link's prompt in the running copy")
        assert prompt.name_var.get() == "Bo" and prompt.link.room == "office"
        prompt.join_button.invoke()
        pump(root, lambda: app.chats, timeout=15, what="Bo in the room")
        wait_until(lambda: "Bo" in host.members, 10, what="Ann to see Bo")
        assert app.chats[0].room == "office" and app.shown is app.chats[0]
    finally:
        primary.close()
        app.quit()


@pytest.mark.skipif(sys.platform == "win32", reason="Windows ends a session with WM_SAVE_YOURSELF, not SIGTERM")
def test_a_logout_leaves_every_room_and_the_next_start_joins_them_again(config_home, tmp_path, office):
    host, link = office
    settings_file = config_home / "online-chat-messenger" / "settings.json"
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text(json.dumps({"name": "Bo", "rooms": [link]}), encoding="utf-8")
    env = app_env(config_home, tmp_path)
    history = tmp_path / "data" / "online-chat-messenger" / "history.db"
    said = {"first": "before the restart", "second": "after the restart"}
    for run in ("first", "second"):
        app = subprocess.Popen([sys.executable, "-m", "ocm_gui"], env=env, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: "Bo" in host.members, 30, what=f"the {run} start to join Bo again")
            host.send(said[run])
            wait_until(lambda line=said[run]: line in kept_texts(history), 15, what=f"the {run} run to keep it")
            app.send_signal(signal.SIGTERM)
            assert app.wait(15) == 0, app.stderr.read().decode() if app.stderr else ""
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()
        # Left properly: gone from the room at once, not after the server's silence timeout.
        wait_until(lambda: "Bo" not in host.members, 10, what="Bo to have left")
        saved = json.loads(settings_file.read_text(encoding="utf-8"))
        assert saved["rooms"] == [link], f"the {run} run forgot the room"
        if run == "first":
            host.send("while Bo was away")
    # The history on Bo's PC: each line once, what was said while away merged in by the second start.
    assert kept_texts(history) == ["before the restart", "while Bo was away", "after the restart"]


def kept_texts(path: Path) -> list[str]:
    """The chat lines the app kept, in room order (read as ocm-chat --history would)."""
    if not path.exists():
        return []
    store = HistoryStore(path)
    try:
        return [line.text for c in store.conversations() for _id, line in store.lines(c.id) if line.kind == "chat"]
    finally:
        store.close()
