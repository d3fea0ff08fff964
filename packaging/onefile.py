"""The one-file app's entry script (build.spec): `OnlineChatMessenger --server [ARGS...]` runs
the headless server with ocm-server's options; anything else is the app (`ocm_gui.__main__`).

It stands above both packages, so that the GUI never imports the terminal tools, and it
imports only what the mode needs: `--server` never loads Tk.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from ocm_gui.__main__ import attach_console
    from ocm_gui.__main__ import main as app_main

    if args[:1] == ["--server"]:
        attach_console()
        from ocm_core.cli.server import server_main

        return server_main(args[1:])
    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
