"""Runs the app as Windows would see Python: POSIX-only modules and names taken away.

    python tests/windows_like.py --self-test      (any arguments of `python -m ocm_gui`)

Before the app imports anything, the modules that Windows' Python lacks cannot be
imported, the names it lacks are deleted from os, socket, signal and select, and the
selector is select() (Windows' only one). Modules that pick a platform branch when
imported keep their Linux branch: the stdlib's (subprocess, os.path) and platformdirs,
imported here first (on Windows it loads its Windows module, which tests/test_paths.py
covers), and ifaddr, which python-zeroconf uses (its import picks ifaddr._win32 there,
ifaddr._posix here; the POSIX branch needs os.uname). This checks our code, not a whole Windows.
tests/test_portability.py runs it.
"""

from __future__ import annotations

import importlib.abc
import os
import runpy
import select
import signal
import socket
import sys
from pathlib import Path

POSIX_ONLY_MODULES = {
    "fcntl",
    "termios",
    "tty",
    "pty",
    "pwd",
    "grp",
    "resource",
    "posix",
    "syslog",
    "crypt",
    "spwd",
    "nis",
}
POSIX_ONLY_NAMES = {
    os: (
        "fork",
        "forkpty",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "setuid",
        "setsid",
        "getpgid",
        "setpgid",
        "killpg",
        "nice",
        "sync",
        "mkfifo",
        "uname",
        "chown",
        "lchown",
        "wait",
        "wait3",
        "wait4",
        "getloadavg",
        "sched_getaffinity",
        "pathconf",
        "statvfs",
    ),
    socket: (
        "MSG_DONTWAIT",
        "MSG_NOSIGNAL",
        "SO_REUSEPORT",
        "SO_BINDTODEVICE",
        "AF_PACKET",
        "SOCK_NONBLOCK",
        "SOCK_CLOEXEC",
    ),
    signal: (
        "SIGKILL",
        "SIGHUP",
        "SIGUSR1",
        "SIGUSR2",
        "SIGALRM",
        "SIGCHLD",
        "SIGPIPE",
        "SIGQUIT",
        "SIGSTOP",
        "SIGCONT",
        "alarm",
        "setitimer",
        "getitimer",
        "pause",
        "siginterrupt",
        "pthread_kill",
        "pthread_sigmask",
    ),
    select: ("poll", "epoll", "devpoll", "kqueue"),
}


class BlockPosixOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in POSIX_ONLY_MODULES:
            raise ImportError(f"No module named {fullname!r} (taken away: Windows has none)", name=fullname)
        return None


def take_away() -> None:
    import ifaddr
    import platformdirs

    sys.meta_path.insert(0, BlockPosixOnly())
    for name in POSIX_ONLY_MODULES:
        sys.modules.pop(name, None)  # imported at start-up (os imports posix): the next import asks us
    for module, names in POSIX_ONLY_NAMES.items():
        for name in names:
            if hasattr(module, name):
                delattr(module, name)
    if "selectors" in sys.modules:  # chose epoll when imported; Windows has select() only
        selectors = sys.modules["selectors"]
        selectors.DefaultSelector = selectors.SelectSelector  # type: ignore[misc]


if __name__ == "__main__":
    take_away()
    sys.argv[0] = "OnlineChatMessenger"  # the packaged app's entry script, as the one-file build runs it
    runpy.run_path(str(Path(__file__).resolve().parents[1] / "packaging" / "onefile.py"), run_name="__main__")
