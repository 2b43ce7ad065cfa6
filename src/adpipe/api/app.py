"""The litestar application: /api/v3 behind API keys, the studio at /, health probes, and the
OpenAPI schema.

Every resource module exposes a `router` relative to /api/v3; all get the same dependencies —
`api` (ApiState) and `user` (the caller's user id) — and the same auth, checks and problem+json
errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from adpipe import __version__
from adpipe.observability.collectors import LOG_LAG
from adpipe.observability.http import metrics_endpoint
from adpipe.projector import PROJECTIONS_CHANNEL
from adpipe.tasks import cancel_and_wait

from . import assets, campaigns, clients, jobs, live, studio, webhooks
from .allow import AllowHeaderMiddleware
from .auth import ApiKeyMiddleware
from .errors import handle_exception
from .health import healthz, readyz
from .idempotency import purge_forever
from .openapi import state_request_bodies
from .request_checks import check_request
from .state import ApiState, NatsReady, api_provider, provide_user
from .voice import voices_router

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

    from adpipe.context import Core

log = logging.getLogger(__name__)

# JSON bodies are small; uploads (POST /assets) stream under settings.upload_max_bytes instead.
MAX_JSON_BODY = 1024 * 1024


def default_route_handlers() -> list[ControllerRouterHandler]:
    """Routes that live beside the core resources: webhook subscriptions and live job events."""
    return [webhooks.router, live.router]


# A blob write touches its row at least every few MiB; an hour of silence means its writer died.
ABANDONED_UPLOAD_SECONDS = 3600.0


async def _sweep_uploads(core: Core) -> None:
    """Hourly, until cancelled: deletes the chunks of blob writes whose process died."""
    while True:
        try:
            swept = await core.blobs.sweep_abandoned_uploads(ABANDONED_UPLOAD_SECONDS)
            if swept:
                log.info("swept %d abandoned blob writes", swept)
        except Exception as exc:  # the database is away: next time
            log.warning("could not sweep abandoned uploads: %s", exc)
        await asyncio.sleep(ABANDONED_UPLOAD_SECONDS)


def create_app(
    core: Core,
    *,
    nats_ready: NatsReady | None = None,
    extra_route_handlers: Sequence[ControllerRouterHandler] | None = None,
) -> Litestar:
    """The API over an opened Core. `extra_route_handlers` replaces the optional routers
    (None: `default_route_handlers()`); `nats_ready` feeds /readyz."""
    api = ApiState(
        core=core,
        # On the core waker's LISTEN connection: one per process, not one per channel.
        projections=core.waker.on(PROJECTIONS_CHANNEL),
        nats_ready=nats_ready,
    )
    extras = default_route_handlers() if extra_route_handlers is None else extra_route_handlers
    v3 = Router(
        path="/api/v3",
        route_handlers=[
            clients.router,
            campaigns.router,
            assets.router,
            jobs.router,
            voices_router,
            *extras,
        ],
        middleware=[DefineMiddleware(ApiKeyMiddleware)],
        dependencies={"api": api_provider(api), "user": Provide(provide_user)},
        before_request=check_request,
        security=[{"apiKey": []}],
    )

    housekeeping: list[asyncio.Task[None]] = []
    watching = contextlib.ExitStack()

    async def start(app: Litestar) -> None:
        await api.reads.open(wait=True, timeout=30)
        await api.projections.start()
        await api.live.start()
        # /metrics shows how far the relay and each projection trail the log, read from Postgres.
        watching.enter_context(LOG_LAG.watching(core.pool))
        keep = core.settings.idempotency_keep_hours
        housekeeping.append(
            asyncio.create_task(purge_forever(core.pool, keep), name="idempotency-purge")
        )
        housekeeping.append(asyncio.create_task(_sweep_uploads(core), name="upload-sweep"))

    async def stop(app: Litestar) -> None:
        for task in housekeeping:
            await cancel_and_wait(task)
        watching.close()
        await api.live.stop()
        await api.projections.stop()
        await api.lookups.close()
        await api.reads.close()

    app = Litestar(
        # /metrics, like the probes, sits outside /api/v3 and needs no key: expose it to the
        # network deliberately (the API binds 127.0.0.1 by default). The studio at / is static
        # files that use /api/v3 with the user's key.
        route_handlers=[healthz, readyz, metrics_endpoint, studio.router, v3],
        state=State({"api": api}),
        on_startup=[start],
        on_shutdown=[stop],
        exception_handlers={Exception: handle_exception},
        middleware=[AllowHeaderMiddleware()],
        request_max_body_size=MAX_JSON_BODY,
        openapi_config=OpenAPIConfig(
            title="adpipe",
            version=__version__,
            description=(
                "Event-sourced AI video ads. Every /api/v3 route needs"
                " `Authorization: Bearer <api key>`. Lists take ?page=1&pageSize=20 (max 100),"
                " newest first, and answer {items, total, page, pageSize}. Errors are"
                " application/problem+json (RFC 9457)."
            ),
            path="/schema",
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(
                        type="http", scheme="bearer", description="An adpipe API key (adp_…)"
                    )
                }
            ),
        ),
        logging_config=None,
        debug=False,
    )
    state_request_bodies(app)
    return app
