"""`adpipe replay …`: job timelines, a job's state at any point, verify, rebuild, export.

Connects with `--database-url` or `DATABASE_URL`. Exit status: 0 fine, 1 verify found
differences, 2 the request could not be carried out (unknown job, bad arguments, no database).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, TextIO

import msgspec
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from adpipe.errors import AdpipeError
from adpipe.storage.eventstore import EventStore

from . import timeline
from .chain import Problem, verify_chains
from .checks import checker_for, discover_projections, select
from .export import export_jsonl
from .progress import ProgressBar
from .shadow import Shadow

_encoder = msgspec.json.Encoder()


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database-url",
        default=argparse.SUPPRESS,
        help="Postgres URL (default: $DATABASE_URL)",
    )
    parser = argparse.ArgumentParser(prog="adpipe replay", description=__doc__, parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("job", parents=[common], help="a job's timeline, or its state at a point")
    p.add_argument("job_id")
    p.add_argument("--at", help="a global position or an ISO 8601 time: the state as it was then")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser(
        "verify", parents=[common], help="check hash chains and every read model against the log"
    )
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--log-only", action="store_true", help="check the hash chains only")

    p = sub.add_parser(
        "rebuild", parents=[common], help="rebuild read models from the log, swapping them in live"
    )
    p.add_argument("projections", nargs="*", metavar="PROJECTION", help="default: all")

    p = sub.add_parser("export", parents=[common], help="the log as JSONL on stdout")
    p.add_argument("--since", help="only after this global position or ISO 8601 time")
    p.add_argument("--stream", action="append", default=[], help="only this stream (repeatable)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `adpipe replay` (argv: the words after `replay`)."""
    return asyncio.run(run(list(sys.argv[1:] if argv is None else argv)))


async def run(argv: list[str], *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already printed
        return int(exc.code or 0)
    url = getattr(args, "database_url", None) or os.environ.get("DATABASE_URL", "")
    if not url:
        print("adpipe replay: set DATABASE_URL or pass --database-url", file=err)
        return 2
    try:
        async with _connect(url) as pool:
            store = EventStore(pool)
            match args.command:
                case "job":
                    return await _job(store, args, out)
                case "verify":
                    return await _verify(pool, store, args, out, err)
                case "rebuild":
                    return await _rebuild(pool, store, args, out, err)
                case "export":
                    since = timeline.parse_point(args.since) if args.since else None
                    await export_jsonl(pool, out, since=since, streams=args.stream or None)
                    return 0
    except (AdpipeError, LookupError) as exc:
        print(f"adpipe replay: {getattr(exc, 'detail', None) or exc}", file=err)
        return 2
    except PoolTimeout as exc:
        print(f"adpipe replay: cannot reach the database: {exc}", file=err)
        return 2
    raise AssertionError(f"unhandled command {args.command}")


@contextlib.asynccontextmanager
async def _connect(url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(url, min_size=1, max_size=4, open=False)
    await pool.open(wait=True, timeout=15)
    try:
        yield pool
    finally:
        await pool.close()


async def _job(store: EventStore, args: argparse.Namespace, out: TextIO) -> int:
    envelopes = await timeline.job_history(store, args.job_id)
    if args.at:
        state, last = timeline.state_at(envelopes, timeline.parse_point(args.at))
        if args.json:
            out.write(_encoder.encode(timeline.state_document(state, last)).decode() + "\n")
        else:
            out.write(timeline.render_state(state, last) + "\n")
        return 0
    rows = timeline.timeline(envelopes)
    if args.json:
        out.write(_encoder.encode(rows).decode() + "\n")
    else:
        out.write(timeline.render_timeline(rows) + "\n")
    return 0


async def _verify(
    pool: AsyncConnectionPool[Any],
    store: EventStore,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
) -> int:
    last = await store.last_position()
    bar = ProgressBar("hash chains", last, err)
    chains = await verify_chains(pool, progress=bar)
    bar.close()
    problems: list[Problem] = list(chains.problems)
    checked: dict[str, int | None] = {}  # read model -> the position it was compared at
    if not args.log_only:
        for projection in discover_projections():
            checker = checker_for(projection)
            bar = ProgressBar(f"read model {checker.name}", last, err)
            problems += await checker.check(pool, store, bar)
            bar.close()
            checked[checker.name] = getattr(checker, "position", None)
    if args.json:
        report = {
            "ok": not problems,
            "events": chains.events,
            "streams": chains.streams,
            "readModels": [{"name": n, "position": p} for n, p in checked.items()],
            "problems": problems,
        }
        out.write(_encoder.encode(report).decode() + "\n")
    else:
        out.write(f"log: {chains.events:,} events in {chains.streams:,} streams\n")
        for name, position in checked.items():
            bad = sum(1 for p in problems if p.check == name)
            verdict = f"{bad} difference(s)" if bad else "matches the log"
            at = "" if position is None else f" (at position {position:,} of {last:,})"
            out.write(f"read model {name}: {verdict}{at}\n")
        if problems:
            out.write(f"{len(problems)} problem(s):\n")
            for problem in problems:
                out.write(f"  [{problem.check}] {problem.detail}\n")
        else:
            out.write("OK: every stream's hash chain is intact and every read model matches\n")
    return 1 if problems else 0


async def _rebuild(
    pool: AsyncConnectionPool[Any],
    store: EventStore,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
) -> int:
    for projection in select(discover_projections(), args.projections):
        started = time.monotonic()
        bar = ProgressBar(f"rebuild {projection.name}", await store.last_position(), err)
        try:
            async with Shadow(pool, store, projection, progress=bar).opened() as shadow:
                position = await shadow.swap()
        finally:
            bar.close()
        out.write(
            f"rebuilt {projection.name} up to position {position:,}"
            f" in {time.monotonic() - started:.1f} s\n"
        )
    return 0
