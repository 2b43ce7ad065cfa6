"""Schema migrations: numbered SQL files applied once each, in order, under an advisory lock."""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg

# Any constant works; it only has to differ from the relay's leader lock.
_MIGRATION_LOCK = 0x61647069_70650001


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped in the package, sorted by name."""
    folder = resources.files("adpipe.storage") / "sql"
    files = [f for f in folder.iterdir() if f.name.endswith(".sql")]
    return sorted((f.name, f.read_text(encoding="utf-8")) for f in files)


async def apply_migrations(conninfo: str) -> list[str]:
    """Applies what is missing and answers the names applied now; safe to run concurrently."""
    applied_now: list[str] = []
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK])
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT name FROM schema_migrations")
            done = {row[0] for row in await cur.fetchall()}
            for name, sql in migration_files():
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql.encode())
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", [name])
                applied_now.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK])
    return applied_now


async def pending_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Names not yet applied (readiness checks use this)."""
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    done: set[str] = set()
    if row and row[0]:
        cur = await conn.execute("SELECT name FROM schema_migrations")
        done = {r[0] for r in await cur.fetchall()}
    return [name for name, _ in migration_files() if name not in done]
