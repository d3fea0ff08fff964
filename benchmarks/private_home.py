"""A home of the benchmark's own: OCM_HOME, HOME and every XDG folder point into a temporary
directory, removed at exit, so that a server's identity, the trusted keys, settings and logs
that a benchmark's processes write never land in the user's real folders (OCM_HOME wins over
each system's usual place in ocm_core/paths.py, on Windows, macOS and Linux alike)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

FOLDERS = (
    ("OCM_HOME", "app"),
    ("HOME", "home"),
    ("XDG_CONFIG_HOME", "config"),
    ("XDG_DATA_HOME", "data"),
    ("XDG_STATE_HOME", "state"),
    ("XDG_CACHE_HOME", "cache"),
)


def point_home_at(base: str) -> None:
    """Point this process (and what it starts) at folders made inside `base`."""
    for variable, name in FOLDERS:
        path = os.path.join(base, name)
        os.makedirs(path)
        os.environ[variable] = path


def use_private_home() -> str:
    """Point this process (and what it starts) at a fresh home, removed at exit; its path."""
    base = tempfile.mkdtemp(prefix="ocm-bench-home-")
    point_home_at(base)
    atexit.register(shutil.rmtree, base, True)
    return base
