"""Waiting helpers for tests: collect a client's events and wait on conditions with deadlines."""

from __future__ import annotations

import datetime
import queue
import signal
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ocm_core.net.client import ChatClient


class EventLog:
    """Collects a client's events and waits, with a deadline, until a condition holds."""

    def __init__(self, client: ChatClient):
        self.client = client
        self.seen: list = []

    def pump(self) -> None:
        while True:
            try:
                self.seen.append(self.client.events.get_nowait())
            except queue.Empty:
                return

    def wait_for(self, condition, timeout: float = 5.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            result = condition(self.seen)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; events: {self.seen[-20:]}")
            time.sleep(0.01)

    def of_type(self, kind) -> list:
        self.pump()
        return [e for e in self.seen if isinstance(e, kind)]

    def wait_type(self, kind, count: int = 1, timeout: float = 5.0) -> list:
        return self.wait_for(
            lambda seen: (found := [e for e in seen if isinstance(e, kind)]) and len(found) >= count and found,
            timeout,
            f"{count} x {kind.__name__}",
        )


class Jitter:
    """Stands in for the `random` module where pauses are jittered: every pause at the low or
    high end of its range, or in the middle."""

    def __init__(self, end: str):
        self.end = end

    def uniform(self, low: float, high: float) -> float:
        return {"low": low, "high": high, "middle": (low + high) / 2}[self.end]


def ecdsa_certificate() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed certificate, valid from yesterday to tomorrow, that holds a P-256 key:
    not the Ed25519 key of our servers."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not ours")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def wait_until(condition, timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)
    return result


class FakeClock:
    """A clock that moves only when a test moves it (`clock.now += seconds`) or when the code
    under test sleeps on it (`clock.sleep`, whose pauses are kept in `clock.pauses`)."""

    def __init__(self):
        self.now = 1000.0
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def handlers_kept():
    """server_main sets its own SIGINT and SIGTERM handlers; pytest's come back afterwards."""
    kept = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in kept.items():
        signal.signal(signum, handler)
