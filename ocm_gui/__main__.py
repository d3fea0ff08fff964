"""The `ocm` command, and the app behind the packaged OnlineChatMessenger.

    ocm                      open the main window (what a double-click does)
    ocm [--name NAME] LINK   join a room by its invite link (in the copy already running, if any)
    ocm --version            print the version
    ocm --self-test          host a room, join it, relay a message; exit 0 or 1

The packaged app's entry script (packaging/onefile.py) adds `--server [ARGS...]`, the
headless server, before it comes here. The GUI is imported only when needed, so
`--version` never loads Tk.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

APP_NAME = "Online Chat Messenger"


def attach_console() -> None:
    """Gives a windowed Windows build somewhere to print when started from a console.

    A frozen app built with console=False has sys.stdout None on Windows; when a person
    runs it from cmd or PowerShell with a flag, attach to that console so the answer shows.
    """
    if sys.platform != "win32" or (sys.stdout is not None and sys.stderr is not None):
        return
    try:
        import ctypes

        if not ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
            return
        if sys.stdout is None:
            sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace")
        if sys.stderr is None:
            sys.stderr = open("CONOUT$", "w", encoding="utf-8", errors="replace")
    except Exception:  # no console to attach to: stay silent, the exit status still tells
        pass


def _say(line: str, *, error: bool = False) -> None:
    stream = sys.stderr if error else sys.stdout
    if stream is None:
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(line.encode(encoding, "backslashreplace").decode(encoding) + "\n")
        stream.flush()


def _version() -> str:
    from ocm_core import __version__

    return __version__


def _parser() -> argparse.ArgumentParser:
    from ocm_core.i18n import _, translate_argparse

    translate_argparse()
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="OnlineChatMessenger" if getattr(sys, "frozen", False) else "ocm",
        description=_(
            "{app}: host a chat room on your LAN or join one. Without options it opens the start window."
        ).format(app=APP_NAME),
        epilog=_(
            "Without --version or --self-test, other options go to the app: an invite link "
            "(ocm://HOST:PORT/ROOM?fp=...), --name NAME, --background, --scale FACTOR, --settings FILE; "
            "a copy already running takes them. "
            "--server [ARGS...] runs the headless server instead; everything after --server goes to it "
            "(see --server --help)."
        ),
    )
    parser.add_argument("--version", action="store_true", help=_("print the version and exit"))
    parser.add_argument(
        "--self-test",
        action="store_true",
        help=_("host a room on free ports, join it, relay one message and exit 0 if that worked (no screen needed)"),
    )
    parser.add_argument("--self-test-timeout", type=float, default=10.0, metavar="SECONDS", help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-level",
        default=os.environ.get("OCM_LOG_LEVEL", "WARNING"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
        help=_("how much the app logs to standard error (default: WARNING)"),
    )
    return parser


def _self_test(timeout: float) -> int:
    from ocm_gui.selftest import SelfTestFailed, run

    try:
        summary = run(timeout=timeout)
    except SelfTestFailed as exc:
        _say(f"self-test failed: {exc}", error=True)
        return 1
    except Exception as exc:  # an unexpected error is a failed self-test, said in one line
        logging.getLogger(__name__).debug("self-test crashed", exc_info=True)
        reason = " ".join(str(exc).split()) or "no detail"
        _say(f"self-test failed: {type(exc).__name__}: {reason}", error=True)
        return 1
    _say(f"self-test passed: {summary}")
    return 0


def main(argv: list[str] | None = None) -> int:
    attach_console()
    from ocm_core.i18n import _, use_language

    use_language()  # the environment's; the app applies the settings' choice when it starts
    args_in = list(sys.argv[1:] if argv is None else argv)

    if "--server" in args_in:  # the packaged app's entry script takes it when it comes first
        _say(
            _(
                "--server must come first: everything after it goes to the server, "
                "as in --server --tcp-port 9090 --udp-port 9091."
            ),
            error=True,
        )
        return 2

    args, rest = _parser().parse_known_args(args_in)
    if rest and (args.version or args.self_test):
        _parser().error(_("unrecognized arguments: %s") % " ".join(rest))
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    if args.version:
        _say(f"{APP_NAME} {_version()}")
        return 0
    if args.self_test:
        return _self_test(args.self_test_timeout)

    from ocm_gui.app import run_app

    return run_app([*rest, "--log-level", args.log_level])  # run_app checks the rest (--settings)


if __name__ == "__main__":
    sys.exit(main())
