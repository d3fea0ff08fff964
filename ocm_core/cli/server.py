"""`ocm-server` (and `python -m ocm_core`): the headless server in a terminal."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from ocm_core import __version__, i18n
from ocm_core.cli.standing import BadRoomOption, standing_rooms
from ocm_core.i18n import _
from ocm_core.net.discovery import Announcer
from ocm_core.net.interfaces import lan_address
from ocm_core.net.server import (
    DEFAULT_TCP_PORT,
    DEFAULT_UDP_PORT,
    ChatServer,
    ServerLimits,
)
from ocm_core.sansio.actions import EDIT_WINDOW_SECONDS
from ocm_core.sansio.room import Limits
from ocm_core.storage.filestore import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_STORAGE_BYTES
from ocm_core.storage.roomstore import default_db_path

MIB = 1024 * 1024


def _server_parser() -> argparse.ArgumentParser:
    i18n.translate_argparse()
    parser = argparse.ArgumentParser(
        prog="ocm-server", description=_("Run an Online Chat Messenger server without a screen.")
    )
    parser.add_argument("--host", default="0.0.0.0", help=_("address to listen on (default: every interface)"))
    parser.add_argument(
        "--tcp-port",
        type=int,
        default=DEFAULT_TCP_PORT,
        help=_("TCP port for creating and joining rooms (default 9090; 0 picks a free one)"),
    )
    parser.add_argument(
        "--udp-port", type=int, default=DEFAULT_UDP_PORT, help=_("UDP port for chat (default 9091; 0 picks a free one)")
    )
    parser.add_argument(
        "--member-timeout",
        type=float,
        default=30.0,
        help=_("seconds of silence before a member is removed (default 30)"),
    )
    parser.add_argument(
        "--edit-window",
        type=float,
        default=EDIT_WINDOW_SECONDS / 3600,
        metavar="HOURS",
        help=_("hours during which a sender may edit or delete a message (default {n:g})").format(
            n=EDIT_WINDOW_SECONDS / 3600
        ),
    )
    parser.add_argument(
        "--max-rooms",
        type=int,
        default=Limits.max_rooms,
        help=_("rooms this server holds at most (default {n})").format(n=Limits.max_rooms),
    )
    parser.add_argument(
        "--max-rooms-per-address",
        type=int,
        default=Limits.max_rooms_per_address,
        help=_("rooms hosted from one address at once (default {n})").format(n=Limits.max_rooms_per_address),
    )
    parser.add_argument(
        "--max-members",
        type=int,
        default=Limits.max_members_per_room,
        help=_("members per room at most (default {n})").format(n=Limits.max_members_per_room),
    )
    parser.add_argument(
        "--max-connections-per-ip",
        type=int,
        default=ServerLimits.max_connections_per_ip,
        help=_("concurrent TCP connections from one address (default {n})").format(
            n=ServerLimits.max_connections_per_ip
        ),
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=Limits.rate_per_second,
        help=_("chat messages a member may send per second (default {n:g})").format(n=Limits.rate_per_second),
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=Limits.rate_burst,
        help=_("messages a member may send in a burst (default {n})").format(n=Limits.rate_burst),
    )
    parser.add_argument(
        "--db",
        default=str(default_db_path()),
        help=_("SQLite file that keeps rooms, members and messages across restarts (default: %(default)s)"),
    )
    parser.add_argument(
        "--no-db", action="store_true", help=_("keep everything in memory; a restart closes every room")
    )
    parser.add_argument(
        "--max-file-mib",
        type=float,
        default=DEFAULT_MAX_FILE_BYTES / MIB,
        help=_("largest file members may share, in MiB (default {n})").format(n=DEFAULT_MAX_FILE_BYTES // MIB),
    )
    parser.add_argument(
        "--max-storage-mib",
        type=float,
        default=DEFAULT_MAX_STORAGE_BYTES / MIB,
        help=_(
            "most the shared files of all rooms may take on disk, in MiB (default 0: what the disk can spare, "
            "keeping 5 %% of it free)"
        ),
    )
    parser.add_argument(
        "--files-dir",
        help=_(
            "where shared files are kept (default: 'files' beside the database, or a temporary folder with --no-db)"
        ),
    )
    parser.add_argument(
        "--move-damaged-db",
        action="store_true",
        help=_("if the database file is damaged, rename it to FILE.damaged-DATE-TIME and start with no rooms"),
    )
    parser.add_argument(
        "--room",
        action="append",
        default=[],
        metavar="NAME[:PASSWORD_FILE]",
        help=_(
            "hold a standing room: one that no person hosts and that stays while the server runs, across "
            "restarts with the database; NAME:PASSWORD_FILE locks it with the first line of that file, which "
            "only you may read; repeat for more rooms"
        ),
    )
    parser.add_argument(
        "--no-announce",
        action="store_true",
        help=_("do not announce this server on the LAN (mDNS and broadcast answers); people then type its address"),
    )
    parser.add_argument(
        "--allow-plain",
        action="store_true",
        help=_(
            "also admit clients without encryption (the assignment's own clients); "
            "their messages, names and passwords cross the network readable"
        ),
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help=_("how much to log (default INFO)"),
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help=_("show the version and exit")
    )
    return parser


def server_main(argv: list[str] | None = None) -> int:
    i18n.use_language()  # the terminal tools follow the environment (LANGUAGE, LC_ALL, ...)
    parser = _server_parser()
    args = parser.parse_args(argv)
    if args.edit_window < 0:
        parser.error(_("--edit-window must be 0 hours or more"))
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        rooms = standing_rooms(args.room)
    except BadRoomOption as exc:
        print(_("ocm-server: {error}").format(error=exc), file=sys.stderr)
        return 2
    limits = Limits(
        max_rooms=args.max_rooms,
        max_rooms_per_address=args.max_rooms_per_address,
        max_members_per_room=args.max_members,
        rate_per_second=args.rate,
        rate_burst=args.burst,
    )
    server = ChatServer(
        args.host,
        args.tcp_port,
        args.udp_port,
        member_timeout=args.member_timeout,
        edit_window=args.edit_window * 3600,
        limits=limits,
        server_limits=ServerLimits(
            max_connections_per_ip=args.max_connections_per_ip,
            max_file_bytes=int(args.max_file_mib * MIB),
            max_storage_bytes=int(args.max_storage_mib * MIB),
        ),
        db_path=None if args.no_db else args.db,
        move_damaged_db=args.move_damaged_db,
        allow_plain=args.allow_plain,
        files_dir=args.files_dir,
        standing_rooms=rooms,
    )
    # Ctrl+C is caught from before the first log line on, so that a stop right after
    # "listening" (a script, a test) still stops cleanly.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server.start()
    except OSError as exc:
        print(_("ocm-server: {error}").format(error=exc), file=sys.stderr)
        return 2
    announcer = None
    if not args.no_announce:
        announcer = Announcer(server)
        announcer.start()
    tcp_port, udp_port = server.tcp_address[1], server.udp_address[1]
    shown = lan_address() if args.host in ("0.0.0.0", "") else args.host
    print(
        _("ocm-server listening on TCP {host}:{tcp} and UDP {host}:{udp}").format(
            host=args.host, tcp=tcp_port, udp=udp_port
        ),
        flush=True,
    )
    print(
        _("Others join with the address {address}. Press Ctrl+C to stop.").format(address=f"{shown}:{tcp_port}"),
        flush=True,
    )
    print(
        _("Server identity: {fingerprint} (joiners see the same; compare it aloud)").format(
            fingerprint=server.fingerprint
        ),
        flush=True,
    )
    if args.allow_plain:
        print(
            _("Clients without encryption are admitted (--allow-plain): what they send can be read on the network."),
            flush=True,
        )
    in_memory = args.no_db or server.memory_only is not None
    if server.damaged_log is not None:
        print(
            _(
                "The database's log was damaged: rooms and messages written after its last good entry are lost. "
                "The damaged log is kept at {path}."
            ).format(path=server.damaged_log),
            flush=True,
        )
    if server.memory_only is not None:
        print(
            _(
                "The database {path} cannot be written ({reason}): rooms are kept in memory only, and stopping "
                "the server closes them; the file keeps what it had."
            ).format(path=args.db, reason=server.memory_only),
            flush=True,
        )
    elif args.no_db:
        print(_("Rooms are kept in memory only: stopping the server closes them."), flush=True)
    elif server.registry is not None and server.registry.saving_fails:
        print(
            _(
                "The database {path} cannot be written now (its disk is full or failing): its rooms are back, "
                "and new messages wait until it can be written."
            ).format(path=args.db),
            flush=True,
        )
    else:
        print(_("Rooms are kept in {path}: after a restart, members carry on.").format(path=args.db), flush=True)
    if rooms:
        print(
            _("Standing rooms, held by this server with no host: {rooms}").format(rooms=", ".join(rooms)),
            flush=True,
        )
    if announcer is not None:
        print(
            _(
                "Announced on the LAN: people see its rooms under Join "
                "(UDP {probe_port} and mDNS port 5353 must be open)."
            ).format(probe_port=announcer.scope.probe_port),
            flush=True,
        )
    while not stop.wait(0.5):
        pass
    if announcer is not None:
        announcer.stop()
    server.stop(close_rooms=in_memory)
    if in_memory:
        print(_("ocm-server stopped; every room was told it closed."), flush=True)
    else:
        print(_("ocm-server stopped; rooms resume when it starts again with the same --db."), flush=True)
    return 0
