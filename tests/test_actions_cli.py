"""Replies, reactions, edits, deletions and the host's tools in two real terminal clients
(each its own install) through a real server: numbered lines, the commands on them, and
what the other terminal prints."""

from __future__ import annotations

import pytest
from test_cli import processes
from test_direct_cli import install

pytestmark = pytest.mark.slow


def test_two_terminals_reply_react_edit_delete_and_the_host_removes_one(processes, tmp_path):
    server = processes("ocm_core", "--host", "127.0.0.1", "--tcp-port", "0", "--udp-port", "0")
    port = server.expect(r"listening on TCP 127\.0\.0\.1:(\d+) and UDP")[1]
    chat = ["ocm_core.cli.chat", "--no-history", "--server", f"127.0.0.1:{port}"]
    alice = processes(*chat, "--create", "office", "--name", "alice", env=install(tmp_path, "alice"))
    alice.expect(r"host of room 'office'")
    alice.expect(r"/reply N TEXT")  # the help says how
    bob = processes(*chat, "--join", "office", "--name", "bob", env=install(tmp_path, "bob"))
    bob.expect(r"in room 'office'")
    alice.expect(r"in the room: .*bob")

    alice.type("who has the projector key?")
    mine = alice.expect(r"\[(\d+)\] alice: who has the projector key\? ✓")[1]
    theirs = bob.expect(r"\[(\d+)\] alice: who has the projector key\?")[1]

    bob.type(f"/reply {theirs} I do, it's in my drawer")
    bob.expect(rf"\[\d+\] bob ↪ \[{theirs}\] alice “who has the projector key\?”: I do, it's in my drawer ✓")
    alice.expect(rf"\[\d+\] bob ↪ \[{mine}\] alice “who has the projector key\?”: I do, it's in my drawer")

    bob.type(f"/react {theirs} thumbsup")
    alice.expect(rf"\* bob reacted 👍 to \[{mine}\] alice")
    bob.type(f"/unreact {theirs} 👍")
    alice.expect(rf"\* bob took back 👍 on \[{mine}\] alice")

    bob.type(f"/edit {theirs} not mine to edit")
    bob.expect(r"! Only its sender can change a message\.")
    alice.type(f"/edit {mine} who has the projector key? (room 4)")
    bob.expect(rf"\* alice edited \[{theirs}\]: who has the projector key\? \(room 4\)$")
    alice.type(f"/delete {mine}")
    bob.expect(rf"\* alice deleted \[{theirs}\]$")
    bob.type(f"/react {theirs} 👍")
    bob.expect(r"! That message was deleted\.")
    bob.type("/reply 999 to nothing")
    bob.expect(r"! No message \[999\] here")

    alice.type("/topic Friday: demo day")
    bob.expect(r"\* Topic: Friday: demo day")
    alice.type("/remove bob")
    bob.expect(r"The host removed you from the room\.")
    alice.expect(r"\* The host removed bob from the room\.")
    alice.type("/password s3cret")
    alice.expect(r"\* alice set a password for the room\.")
    # A newcomer who keeps history reads all of it, the removal and the lock included.
    carol = processes(
        "ocm_core.cli.chat",
        "--server",
        f"127.0.0.1:{port}",
        "--join",
        "office",
        "--name",
        "carol",
        "--password",
        "s3cret",
        env=install(tmp_path, "carol"),
    )
    carol.expect(r"in room 'office'")
    carol.expect(r"\* The host removed bob from the room\.")
    carol.expect(r"\* alice set a password for the room\.")
    carol.expect(r"\* Topic: Friday: demo day")
    alice.type("still here?")
    carol.expect(r"\[\d+\] alice: still here\?$")
    assert not [line for line in carol.seen if "could not be shown" in line]


def test_a_long_japanese_message_between_two_terminals_arrives_whole(processes, tmp_path):
    server = processes("ocm_core", "--host", "127.0.0.1", "--tcp-port", "0", "--udp-port", "0")
    port = server.expect(r"listening on TCP 127\.0\.0\.1:(\d+) and UDP")[1]
    chat = ["ocm_core.cli.chat", "--no-history", "--server", f"127.0.0.1:{port}"]
    alice = processes(*chat, "--create", "長文", "--name", "アリス", env=install(tmp_path, "alice"))
    alice.expect(r"host of room '長文'")
    bob = processes(*chat, "--join", "長文", "--name", "ボブ", env=install(tmp_path, "bob"))
    bob.expect(r"in room '長文'")
    alice.expect(r"in the room: .*ボブ")
    text = ("議事録の共有です。" * 2300) + "以上"  # 20,702 characters, 62,106 bytes: 16 datagrams' worth
    alice.type(text)
    alice.expect(r"\[\d+\] アリス: 議事録の共有です。.*以上 ✓", timeout=20)
    line = bob.expect(r"\[\d+\] アリス: (議事録の共有です。.*以上)$", timeout=20)
    assert line[1] == text
