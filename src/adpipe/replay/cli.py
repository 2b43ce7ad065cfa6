"""`adpipe replay …`: job timelines, a job's state at any point, verify, rebuild, export.

Connects with `--database-url`, `DATABASE_URL`, or the `adpipe up` running in `ADPIPE_HOME`
(default ./.adpipe); the chain key comes from `ADPIPE_CHAIN_KEY`,
`ADPIPE_CHAIN_KEY_FILE` or `$ADPIPE_HOME/chain.key`, as for every role. Exit status: 0 fine,
1 verify found differences, 2 the request could not be carried out (unknown job, bad arguments,
no database).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import msgspec
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from adpipe.errors import AdpipeError
from adpipe.settings import load_settings
from adpipe.storage.eventstore import EventStore
from adpipe.terminal import printable

from . import timeline
from .chain import Anchor, Problem, make_anchor, verify_chains
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
    p.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="FILE",
        help="an anchor written by `adpipe replay anchor` (repeatable): the log must still hold it",
    )
    p.add_argument(
        "--unkeyed-until",
        type=int,
        default=0,
        metavar="POSITION",
        help="accept links without the chain key up to this position (a log older than the key)",
    )

    p = sub.add_parser(
        "anchor",
        parents=[common],
        help="pin the log's newest event: keep the JSON outside the database, verify with it",
    )
    p.add_argument("--output", "-o", help="write to this file instead of stdout")

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
    url = getattr(args, "database_url", None) or load_settings().database_url
    if not url:
        print(
            "adpipe replay: no database: run it beside `adpipe up` (same ADPIPE_HOME),"
            " set DATABASE_URL or pass --database-url",
            file=err,
        )
        return 2
    try:
        key = _chain_key()
        async with _connect(url) as pool:
            store = EventStore(pool, chain_key=key)
            match args.command:
                case "job":
                    return await _job(store, args, out)
                case "verify":
                    return await _verify(pool, store, args, out, err, key)
                case "anchor":
                    return await _anchor(pool, args, out, key)
                case "rebuild":
                    return await _rebuild(pool, store, args, out, err)
                case "export":
                    since = timeline.parse_point(args.since) if args.since else None
                    await export_jsonl(pool, out, since=since, streams=args.stream or None)
                    return 0
    except (AdpipeError, LookupError, OSError, ValueError, msgspec.DecodeError) as exc:
        print(f"adpipe replay: {getattr(exc, 'detail', None) or exc}", file=err)
        return 2
    except PoolTimeout as exc:
        print(f"adpipe replay: cannot reach the database: {exc}", file=err)
        return 2
    raise AssertionError(f"unhandled command {args.command}")


def _chain_key() -> bytes | None:
    key = load_settings().chain_key
    return key.encode() if key else None


def _read_anchor(path: str) -> Anchor:
    try:
        return msgspec.json.decode(Path(path).read_bytes(), type=Anchor)
    except msgspec.ValidationError as exc:
        raise ValueError(
            f"{path} is not an anchor written by `adpipe replay anchor`: {exc}"
        ) from None


async def _anchor(
    pool: AsyncConnectionPool[Any], args: argparse.Namespace, out: TextIO, key: bytes | None
) -> int:
    anchor = await make_anchor(pool, key)
    if anchor is None:
        raise LookupError("the log is empty: nothing to anchor")
    text = _encoder.encode(anchor).decode() + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        out.write(text)
    return 0


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
    key: bytes | None,
) -> int:
    anchors = [_read_anchor(path) for path in args.anchor]
    last = await store.last_position()
    bar = ProgressBar("hash chains", last, err)
    chains = await verify_chains(
        pool, key=key, anchors=anchors, unkeyed_until=args.unkeyed_until, progress=bar
    )
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
            "keyedLinks": chains.keyed,
            "unkeyedLinks": chains.unkeyed,
            "readModels": [{"name": n, "position": p} for n, p in checked.items()],
            "problems": problems,
        }
        out.write(_encoder.encode(report).decode() + "\n")
    else:
        out.write(f"log: {chains.events:,} events in {chains.streams:,} streams\n")
        if chains.unkeyed and key is None:
            out.write(
                f"note: {chains.unkeyed:,} link(s) are not keyed (no chain key): they show"
                " accidents, not a forger who can write to the database\n"
            )
        for name, position in checked.items():
            bad = sum(1 for p in problems if p.check == name)
            verdict = f"{bad} difference(s)" if bad else "matches the log"
            at = "" if position is None else f" (at position {position:,} of {last:,})"
            out.write(f"read model {name}: {verdict}{at}\n")
        if problems:
            out.write(f"{len(problems)} problem(s):\n")
            for problem in problems:
                out.write(f"  [{problem.check}] {printable(problem.detail)}\n")
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
