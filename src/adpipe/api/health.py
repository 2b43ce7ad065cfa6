"""`/healthz` (the process answers) and `/readyz` (Postgres, migrations and NATS are ready)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from adpipe.projector import degraded_projections
from adpipe.storage.migrations import pending_migrations

from .errors import PROBLEM_JSON, Problem, problem, problem_response_of
from .state import ApiState

CHECK_SECONDS = 5.0


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)


@get("/healthz", summary="Liveness: the process answers", tags=["health"])
async def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    summary="Readiness: Postgres reachable with migrations applied, NATS reachable",
    tags=["health"],
    responses={
        503: ResponseSpec(
            Problem, description="Not ready; `checks` says which", media_type=PROBLEM_JSON
        )
    },
)
async def readyz(state: State) -> Response[Any]:
    api: ApiState = state.api
    checks = {"postgres": await _postgres(api), "nats": await _nats(api)}
    if all(v in ("ok", "not configured") for v in checks.values()):
        # A degraded read model still answers (it skipped what it could not fold): ready, and
        # saying so, rather than taking the API out of rotation.
        degraded = await _degraded(api)
        if degraded:
            checks["projections"] = degraded
            return Response(Health(status="degraded", checks=checks))
        return Response(Health(status="ready", checks=checks))
    failed = ", ".join(f"{k}: {v}" for k, v in checks.items() if v not in ("ok", "not configured"))
    return problem_response_of(problem(503, f"not ready ({failed})", checks=checks))


async def _postgres(api: ApiState) -> str:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            async with api.core.pool.connection(timeout=CHECK_SECONDS) as conn:
                pending = await pending_migrations(conn)
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    if pending:
        return f"migrations not applied: {', '.join(pending)}"
    return "ok"


async def _degraded(api: ApiState) -> str:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            degraded = await degraded_projections(api.core.pool)
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"
    return "; ".join(
        f"degraded: {d.projection} skipped {d.events} event(s) it could not fold, the first at"
        f" position {d.first_position} ({d.first_error}); fix, then `adpipe replay rebuild"
        f" {d.projection}`"
        for d in degraded
    )


async def _nats(api: ApiState) -> str:
    if api.nats_ready is None:
        return "not configured"  # the API itself never talks to NATS; the caller did not ask
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            ready = await api.nats_ready()
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok" if ready else "unreachable"
