"""An Idempotency-Key whose claim was never released — its process died, or the database went
away before the release — works again once the claim's lease has run out; old answers are
purged."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from adpipe.api.idempotency import fingerprint, purge_forever
from adpipe.context import Core
from adpipe.tasks import cancel_and_wait

from .conftest import Client, job_body, new_client

LEASE = 2.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"idempotency_claim_seconds": LEASE}


async def leave_claim(core: Core, user: str, key: str, body: Any, age_seconds: float) -> None:
    """What a request that could not release its claim leaves behind: a placeholder row."""
    print_ = fingerprint("POST", "/api/v3/jobs", json.dumps(body).encode())
    async with core.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO idempotency_keys"
            " (user_id, key, fingerprint, status_code, body, created_at)"
            " VALUES (%s, %s, %s, 0, '', now() - make_interval(secs => %s))",
            [user, key, print_, age_seconds],
        )


async def test_a_claim_left_by_an_outage_is_taken_over_once_its_lease_ran_out(
    alice: Client, core: Core
) -> None:
    body = job_body(await new_client(alice))
    headers = {"Idempotency-Key": "left-behind"}
    await leave_claim(core, "alice", "left-behind", body, 0)
    answer = await alice.post("/api/v3/jobs", json=body, headers=headers)
    assert answer.status == 409  # it may still be running somewhere: never run it twice

    async with core.pool.connection() as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - make_interval(secs => %s)",
            [LEASE + 1],
        )
    answer = await alice.post("/api/v3/jobs", json=body, headers=headers)
    assert answer.status == 201, answer.body
    again = await alice.post("/api/v3/jobs", json=body, headers=headers)
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert (await alice.get("/api/v3/jobs")).json()["total"] == 1


async def test_old_answers_are_purged(alice: Client, core: Core) -> None:
    body = job_body(await new_client(alice))
    await leave_claim(core, "alice", "ancient", body, 3 * 86400)
    answer = await alice.post("/api/v3/jobs", json=body, headers={"Idempotency-Key": "recent"})
    assert answer.status == 201
    task = asyncio.create_task(purge_forever(core.pool, keep_hours=24))
    try:
        async with asyncio.timeout(10):
            while True:
                async with core.pool.connection() as conn:
                    cur = await conn.execute("SELECT key FROM idempotency_keys ORDER BY key")
                    keys = [row[0] for row in await cur.fetchall()]
                if keys == ["recent"]:
                    break
                await asyncio.sleep(0.05)
    finally:
        await cancel_and_wait(task)
