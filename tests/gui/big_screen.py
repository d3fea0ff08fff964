"""A virtual screen of its own, 1920 x 1200 at 24 bits, for tests that need more than
pytest-xvfb's 800 x 600 x 16: a window laid out for Tk scaling 2 (which is capped at nine
tenths of the screen) and pixels Pillow can read. The suite's screen stays as it is:
focus there follows the pointer at its centre, which other tests count on.

Use: `from big_screen import big_screen, root  # noqa: F401` in a test module; `root`
is then the usual trapped root, made on this screen.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


# Session scope: Tk keeps a connection to every screen it opened until the process ends, and
# a screen that goes away under it while Tk still runs ends the process.
@pytest.fixture(scope="session")
def big_screen():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    read, write = os.pipe()
    # -terminate: the screen ends with its last client, so a test run that dies leaves none behind.
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1920x1200x24", "-nolisten", "tcp", "-terminate"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as answer:
            number = answer.readline().strip()  # Xvfb writes its display number once it is ready
        if not number:
            pytest.fail("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def on_big_screen(big_screen, monkeypatch):
    monkeypatch.setenv("DISPLAY", big_screen)
    return big_screen


@pytest.fixture
def root(on_big_screen, root):  # the suite's root, made on the big screen
    return root
