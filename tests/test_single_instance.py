"""One app at a time, over real sockets and real processes: the running copy takes a later
launch's arguments, a stale file or lock does not stop a new copy, two launches at once
settle on one, and a connection that is not a hand-off is dropped while the server goes on."""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ocm_core.wire import HANDOFF_OK, MAX_HANDOFF_BYTES, encode_handoff
from ocm_gui.single_instance import INSTANCE_FILE, LOCK_FILE, Primary, claim, hand_off
from tests.support import wait_until

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[1]
LINK = "ocm://192.168.1.20:9090/部屋?fp=K3QF-7ZPA-AAAA-BBBB-CCCC"
LOGGER = "ocm_gui.single_instance"


class Received:
    """What a Primary's on_args was given, from its thread."""

    def __init__(self):
        self.calls: queue.Queue[list[str]] = queue.Queue()

    def __call__(self, args: list[str]) -> None:
        self.calls.put(args)

    def next(self, timeout: float = 5.0) -> list[str]:
        return self.calls.get(timeout=timeout)


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(child.stdout)


def dropped(caplog, reason: str) -> bool:
    return any("dropped a hand-off" in r.getMessage() and reason in r.getMessage() for r in caplog.records)


@pytest.fixture
def primary(tmp_path):
    received = Received()
    with Primary(tmp_path, received) as running:
        running.received = received  # type: ignore[attr-defined]
        yield running


# --- in one process ----------------------------------------------------------------------------


def test_the_running_copy_receives_a_link_and_an_empty_come_forward(primary, tmp_path):
    assert hand_off(tmp_path, [LINK]) is True
    assert primary.received.next() == [LINK]
    assert hand_off(tmp_path, []) is True
    assert primary.received.next() == []


def test_instance_file_names_the_port_and_a_fresh_secret(primary, tmp_path):
    record = json.loads((tmp_path / INSTANCE_FILE).read_text(encoding="utf-8"))
    assert set(record) == {"port", "secret", "pid"}
    assert record["port"] == primary.port and record["pid"] == os.getpid()
    assert len(bytes.fromhex(record["secret"])) == 32
    with Primary(tmp_path / "other", Received()) as other:
        assert json.loads(other.path.read_text(encoding="utf-8"))["secret"] != record["secret"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes; on Windows the profile's access list")
def test_instance_file_is_readable_only_by_the_user(primary, tmp_path):
    assert (tmp_path / INSTANCE_FILE).stat().st_mode & 0o777 == 0o600


def test_close_removes_the_file_and_the_lock_only_while_they_are_ours(tmp_path):
    first = claim(tmp_path, Received())
    assert first is not None and (tmp_path / LOCK_FILE).exists()
    first.close()
    assert not (tmp_path / INSTANCE_FILE).exists() and not (tmp_path / LOCK_FILE).exists()
    first.close()  # twice is harmless

    second = claim(tmp_path, Received())
    assert second is not None
    (tmp_path / INSTANCE_FILE).write_text('{"port": 1, "secret": "00", "pid": 1}', encoding="utf-8")
    (tmp_path / LOCK_FILE).write_text("1 someone-else\n", encoding="utf-8")
    second.close()
    assert (tmp_path / INSTANCE_FILE).exists() and (tmp_path / LOCK_FILE).exists()


def test_after_close_nothing_answers(tmp_path):
    running = claim(tmp_path, Received())
    assert running is not None
    record = (tmp_path / INSTANCE_FILE).read_text(encoding="utf-8")
    running.close()
    (tmp_path / INSTANCE_FILE).write_text(record, encoding="utf-8")  # as if the copy had crashed
    assert hand_off(tmp_path, [LINK]) is False


@pytest.mark.parametrize(
    "content",
    [None, "", "not json", "[]", '{"port": "9090", "secret": "00"}', '{"port": 70000, "secret": "00"}', "{}"],
)
def test_hand_off_is_false_without_a_usable_file(tmp_path, content):
    if content is not None:
        (tmp_path / INSTANCE_FILE).write_text(content, encoding="utf-8")
    assert hand_off(tmp_path, [LINK]) is False


def test_hand_off_is_false_at_a_port_nobody_listens_on(tmp_path):
    record = {"port": unused_port(), "secret": bytes(32).hex(), "pid": 1}
    (tmp_path / INSTANCE_FILE).write_text(json.dumps(record), encoding="utf-8")
    assert hand_off(tmp_path, [LINK]) is False


@pytest.mark.parametrize("answer", [b"no\n", b"", b"okay\n", b"o"])
def test_hand_off_is_false_when_a_stranger_answers(tmp_path, answer):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    heard: list[bytes] = []

    def stranger() -> None:
        conn, _ = listener.accept()
        with conn:
            heard.append(conn.recv(65536))
            conn.sendall(answer)

    thread = threading.Thread(target=stranger, daemon=True)
    thread.start()
    record = {"port": listener.getsockname()[1], "secret": bytes(32).hex(), "pid": 1}
    (tmp_path / INSTANCE_FILE).write_text(json.dumps(record), encoding="utf-8")
    try:
        assert hand_off(tmp_path, [LINK], timeout=2.0) is False
        thread.join(timeout=5)
        assert heard and heard[0].endswith(b"\n")
    finally:
        listener.close()


def test_hand_off_gives_up_at_its_timeout_on_a_copy_that_never_answers(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepted by the kernel, never read
        record = {"port": listener.getsockname()[1], "secret": bytes(32).hex(), "pid": 1}
        (tmp_path / INSTANCE_FILE).write_text(json.dumps(record), encoding="utf-8")
        assert hand_off(tmp_path, [LINK], timeout=0.2) is False


# --- what is not a hand-off is dropped; the next one works -----------------------------------


def send_raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(data)
            return sock.recv(16)
        except OSError:
            return b""


@pytest.mark.parametrize(
    "data, reason",
    [
        (encode_handoff(b"a secret that is not the copy's", [LINK]), "not made with this copy's secret"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not UTF-8 JSON"),
        (b"\x00\xff" * 10 + b"\n", "not UTF-8 JSON"),
        (b"x" * (MAX_HANDOFF_BYTES + 4096), f"no line within {MAX_HANDOFF_BYTES} bytes"),
        (b"x" * MAX_HANDOFF_BYTES + b"\n", f"the most is {MAX_HANDOFF_BYTES}"),
        (b'{"v":1}', "closed before a whole line"),
    ],
)
def test_a_bad_connection_is_dropped_and_logged_and_the_next_hand_off_works(primary, tmp_path, caplog, data, reason):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    if reason.startswith("closed"):
        with socket.create_connection(("127.0.0.1", primary.port), timeout=5) as sock:
            sock.sendall(data)
    else:
        assert send_raw(primary.port, data) == b""  # never "ok"
    wait_until(lambda: dropped(caplog, reason), what=f"a drop for {reason!r}")
    assert primary.received.calls.empty()
    assert hand_off(tmp_path, [LINK]) is True
    assert primary.received.next() == [LINK]


@pytest.mark.waits
def test_a_stalled_client_is_dropped_at_the_deadline_and_blocks_no_one(primary, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with socket.create_connection(("127.0.0.1", primary.port), timeout=5) as stalled:
        assert hand_off(tmp_path, [LINK]) is True  # while the stalled one is still connected
        assert primary.received.next() == [LINK]
        wait_until(lambda: dropped(caplog, "no whole line within 1 s"), what="the stalled client's drop")
        stalled.settimeout(5)
        assert stalled.recv(16) == b""  # closed by the server
    assert hand_off(tmp_path, ["again"]) is True
    assert primary.received.next() == ["again"]


@pytest.mark.expect_error_log("could not take the arguments")
def test_an_app_that_fails_to_take_the_arguments_is_not_told_ok(tmp_path):
    calls: list[list[str]] = []

    def refuse(args: list[str]) -> None:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("inbox gone")

    with Primary(tmp_path, refuse):
        assert hand_off(tmp_path, [LINK]) is False
        assert hand_off(tmp_path, ["second"]) is True
    assert calls == [[LINK], ["second"]]


# --- claim: who becomes the running copy -------------------------------------------------------


def test_claim_hands_off_to_a_running_copy(primary, tmp_path):
    assert claim(tmp_path, Received(), [LINK]) is None
    assert primary.received.next() == [LINK]


def test_a_copy_still_starting_is_waited_for_and_handed_the_link(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    token = "4242 0123456789abcdef\n"
    (tmp_path / LOCK_FILE).write_text(token, encoding="utf-8")  # it has the lock, no server yet
    outcome: list[Primary | None] = []
    later = threading.Thread(target=lambda: outcome.append(claim(tmp_path, Received(), [LINK])), daemon=True)
    later.start()
    wait_until(lambda: any("waiting for it to answer" in r.getMessage() for r in caplog.records), what="the wait")
    received = Received()
    with Primary(tmp_path, received, lock_token=token):
        later.join(timeout=5)
        assert outcome == [None]
        assert received.next() == [LINK]
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_stale_instance_file_does_not_stop_a_new_copy(tmp_path):
    record = {"port": unused_port(), "secret": bytes(32).hex(), "pid": dead_pid()}
    (tmp_path / INSTANCE_FILE).write_text(json.dumps(record), encoding="utf-8")
    received = Received()
    running = claim(tmp_path, received, [LINK])
    assert running is not None
    with running:
        assert json.loads((tmp_path / INSTANCE_FILE).read_text(encoding="utf-8"))["port"] == running.port
        assert hand_off(tmp_path, ["next"]) is True
        assert received.next() == ["next"]


@pytest.mark.waits
def test_a_lock_left_by_a_copy_that_died_is_taken_over(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    pid = dead_pid()
    (tmp_path / LOCK_FILE).write_text(f"{pid} 0123456789abcdef\n", encoding="utf-8")
    record = {"port": unused_port(), "secret": bytes(32).hex(), "pid": pid}
    (tmp_path / INSTANCE_FILE).write_text(json.dumps(record), encoding="utf-8")
    received = Received()
    running = claim(tmp_path, received, [LINK])
    assert running is not None
    with running:
        assert any("removing the lock" in r.getMessage() for r in caplog.records)
        assert (tmp_path / LOCK_FILE).read_text(encoding="utf-8").startswith(f"{os.getpid()} ")
        assert hand_off(tmp_path, ["next"]) is True
        assert received.next() == ["next"]
    assert not (tmp_path / LOCK_FILE).exists()


# --- real second processes ----------------------------------------------------------------------

# A later launch, as the app makes it: claim, and exit 0 once a running copy has the arguments.
LAUNCH = """
import sys, time
from pathlib import Path
from ocm_gui.single_instance import claim
start = time.perf_counter()
running = claim(Path(sys.argv[1]), lambda args: None, sys.argv[2:])
print(f"{time.perf_counter() - start:.4f}", flush=True)
if running is not None:
    running.close()
    sys.exit(3)
"""


def test_a_second_process_hands_its_link_over_and_exits_within_a_second(primary, tmp_path):
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(tmp_path), LINK],
        env=child_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=10,
    )
    whole = time.perf_counter() - started
    assert child.returncode == 0, child.stderr
    assert primary.received.next() == [LINK]
    handoff = float(child.stdout)
    print(f"\nhand-off in the second process: {handoff * 1000:.1f} ms; the whole process: {whole * 1000:.0f} ms")
    assert handoff < 1.0  # the requirement


# Two launches at once: each waits for "go" on stdin, then claims. The one that becomes the
# running copy waits for the other's arguments and prints them.
RACER = """
import queue, sys
from pathlib import Path
from ocm_gui.single_instance import claim
got = queue.Queue()
print("ready", flush=True)
sys.stdin.readline()
running = claim(Path(sys.argv[1]), got.put, [sys.argv[2]])
if running is None:
    print("handed", flush=True)
else:
    with running:
        print("primary", got.get(timeout=10)[0], flush=True)
"""


@pytest.mark.parametrize("round_", range(3))
def test_two_launches_at_once_settle_on_one_running_copy(tmp_path, round_):
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path), name],
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        for name in ("first", "second")
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        outputs = [racer.communicate(timeout=15) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()
    assert [racer.returncode for racer in racers] == [0, 0], [err for _, err in outputs]
    lines = sorted(out.strip() for out, _ in outputs)
    assert lines in (["handed", "primary first"], ["handed", "primary second"]), lines
    winner = "first" if "primary second" in lines else "second"  # the primary prints the other's name
    print(f"\nround {round_}: {winner} became the running copy")
    assert not (tmp_path / LOCK_FILE).exists() and not (tmp_path / INSTANCE_FILE).exists()
