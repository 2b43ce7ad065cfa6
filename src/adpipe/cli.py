"""The `adpipe` command: run the stack or one role, migrate, manage keys, audit the log."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import msgspec

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from adpipe.errors import AdpipeError
from adpipe.runtime.lifeline import die_with_supervisor
from adpipe.runtime.signals import StopSignals
from adpipe.settings import Settings, load_settings


def _need(settings: Settings, *names: str) -> None:
    missing = [n.upper() for n in names if not getattr(settings, n)]
    if missing:
        hint = "(or use `adpipe up` for the embedded stack)"
        raise AdpipeError(f"set {' and '.join(missing)} {hint}")


def _run_until_signal(
    args: argparse.Namespace, main: Callable[[asyncio.Event], Awaitable[None]]
) -> int:
    """Run a role until SIGINT or SIGTERM, heard since `main()` began (see runtime.signals)."""
    signals: StopSignals = args.stop_signals

    async def runner() -> None:
        stop = asyncio.Event()
        with signals.attach(asyncio.get_running_loop(), lambda number: stop.set()):
            await main(stop)

    asyncio.run(runner())
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from adpipe.storage.migrations import apply_migrations

    _need(settings, "database_url")
    applied = asyncio.run(apply_migrations(settings.database_url))
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from adpipe.runtime.stack import up

    if args.port:
        settings = load_settings(port=args.port)
    return up(settings, args.stop_signals)


def cmd_relay(settings: Settings, args: argparse.Namespace) -> int:
    from adpipe.runtime.roles import connected, run_relay

    _need(settings, "database_url", "nats_url")

    async def main(stop: asyncio.Event) -> None:
        async with connected(settings, "relay") as (core, nc):
            await run_relay(core, nc, stop)

    return _run_until_signal(args, main)


def cmd_projector(settings: Settings, args: argparse.Namespace) -> int:
    from adpipe.context import open_core
    from adpipe.runtime.roles import run_projector

    _need(settings, "database_url")

    size = settings.projector_pool_size
    own = msgspec.structs.replace(
        settings, pool_max_size=size, pool_min_size=min(settings.pool_min_size, size)
    )

    async def main(stop: asyncio.Event) -> None:
        async with open_core(own) as core:
            await run_projector(core, stop)

    return _run_until_signal(args, main)


def cmd_service(settings: Settings, args: argparse.Namespace) -> int:
    from adpipe.runtime.roles import connected, load_service

    load_service(args.name)  # an unknown name fails here, before connecting anywhere
    _need(settings, "database_url", "nats_url")

    async def main(stop: asyncio.Event) -> None:
        from adpipe.runtime.roles import run_service

        async with connected(settings, args.name) as (core, nc):
            await run_service(args.name, core, nc, stop)

    return _run_until_signal(args, main)


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    from adpipe.api.server import serve_api

    _need(settings, "database_url", "nats_url")
    if args.port:
        settings = load_settings(port=args.port)

    async def main(stop: asyncio.Event) -> None:
        from adpipe.bus import connect

        nc = await connect(settings.nats_url, name="adpipe-api")

        async def nats_ready() -> bool:
            return bool(nc.is_connected)

        # A supervisor (`adpipe up`) hands every api process the one listening socket it holds.
        sock = None if args.fd is None else socket.socket(fileno=args.fd)
        try:
            await serve_api(settings, stop, nats_ready=nats_ready, sock=sock)
        finally:
            with contextlib.suppress(Exception):
                await nc.drain()

    return _run_until_signal(args, main)


def cmd_events_schema(settings: Settings, args: argparse.Namespace) -> int:
    from adpipe.events import contract

    folder = Path(args.out) if args.out else contract.SCHEMA_DIR
    if args.check:
        stale = contract.differences(folder)
        if stale:
            print("out of date: " + ", ".join(stale), file=sys.stderr)
            return 1
        print("events/schema is up to date")
        return 0
    names = contract.write(folder)
    print(f"wrote {len(names)} files to {folder}")
    return 0


def cmd_settings_table(settings: Settings, args: argparse.Namespace) -> int:
    from adpipe import settings_table

    if args.write is None:
        print(settings_table.table())
        return 0
    changed = settings_table.write_readme(Path(args.write))
    print(f"{args.write}: {'updated' if changed else 'already up to date'}")
    return 0


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    from adpipe.api.keys import create_key, revoke_key

    _need(settings, "database_url")
    if args.keys_command == "create":
        print(asyncio.run(create_key(settings.database_url, args.user)))
        return 0
    revoked = asyncio.run(revoke_key(settings.database_url, args.key))
    if not revoked:
        print("no such active key", file=sys.stderr)
        return 1
    print("revoked")
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from adpipe.replay.cli import main as replay_main

    return int(replay_main(args.rest))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adpipe", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply database migrations (idempotent)").set_defaults(
        func=cmd_migrate
    )
    p = sub.add_parser("up", help="start the whole stack with an embedded Postgres and NATS")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_up, role="up")
    p = sub.add_parser("api", help="serve the HTTP API")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--fd", type=int, default=None, help="serve on this inherited listening socket")
    p.set_defaults(func=cmd_api, role="api")
    p = sub.add_parser("relay", help="publish the event log to NATS")
    p.set_defaults(func=cmd_relay, role="relay")
    p = sub.add_parser("projector", help="keep the read models current")
    p.set_defaults(func=cmd_projector, role="projector")
    p = sub.add_parser("service", help="run one service (downloader, planner, renderer, webhooks)")
    p.add_argument("name")
    p.set_defaults(func=cmd_service, role="service")

    p = sub.add_parser("events", help="the event contract")
    events_sub = p.add_subparsers(dest="events_command", required=True)
    p = events_sub.add_parser("schema", help="write JSON Schema + AsyncAPI to events/schema/")
    p.add_argument("--out", default=None)
    p.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    p.set_defaults(func=cmd_events_schema)

    p = sub.add_parser("settings", help="the tunables (Settings)")
    settings_sub = p.add_subparsers(dest="settings_command", required=True)
    p = settings_sub.add_parser("table", help="print every setting: variable, default, why")
    p.add_argument(
        "--write",
        nargs="?",
        const="README.md",
        default=None,
        metavar="README",
        help="put the table between the markers in README (default README.md)",
    )
    p.set_defaults(func=cmd_settings_table)

    p = sub.add_parser("keys", help="API keys")
    keys_sub = p.add_subparsers(dest="keys_command", required=True)
    p = keys_sub.add_parser("create", help="print a new key for a user")
    p.add_argument("--user", required=True)
    p.set_defaults(func=cmd_keys)
    p = keys_sub.add_parser("revoke", help="revoke a key (the key itself or its id)")
    p.add_argument("key")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("replay", help="audit: timelines, state at a point, verify, rebuild, export")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_replay)
    return parser


ROLE_COMMANDS = frozenset({"up", "api", "relay", "projector", "service"})


def _observe(settings: Settings, args: argparse.Namespace) -> None:
    """The log format for every command; tracing and the metrics port for a role's process."""
    from adpipe.observability import setup
    from adpipe.observability.logs import configure_logging

    if args.command in ROLE_COMMANDS:
        setup(
            settings, args.name if args.command == "service" else args.command, verbose=args.verbose
        )
        # `adpipe up` names each replica (renderer.2): people reading a terminal see which.
        label = os.environ.get("ADPIPE_ROLE_LABEL")
        if label and settings.log_format == "text" and args.command != "up":
            from adpipe.observability import correlation

            correlation.set_process_role(label)
    else:
        configure_logging(log_format=settings.log_format, verbose=args.verbose)


def main(argv: Sequence[str] | None = None) -> int:
    # Before anything else: a role started by `adpipe up` dies with it, and a stop signal that
    # arrives while a long-running command starts up is kept for it (runtime.signals).
    die_with_supervisor()
    signals = StopSignals().install()
    try:
        args = build_parser().parse_args(argv)
    except BaseException:  # --help, a usage error
        signals.release()
        raise
    role = getattr(args, "role", None)
    if role is None:
        signals.release()  # a one-shot command: Ctrl-C interrupts it the usual way
    args.stop_signals = signals
    from adpipe.observability.logs import configure_logging

    configure_logging(verbose=args.verbose)  # until the settings say which format
    try:
        settings = load_settings()
        _observe(settings, args)
        return int(args.func(settings, args))
    except AdpipeError as exc:
        print(f"adpipe: {exc.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
