"""What every handler shares: the core, the projections' waker, and read-your-writes waiting."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from psycopg_pool import AsyncConnectionPool

from adpipe.errors import NotFound
from adpipe.events.catalogue import Envelope, Metadata, NewEvent, stream_id
from adpipe.media import MediaInspector
from adpipe.projections import PROJECTION_NAMES
from adpipe.projector import wait_for_projections

from .grouped_reads import Lookups
from .limits import UserLimits
from .livehub import LiveHub

if TYPE_CHECKING:
    from litestar import Request
    from litestar.datastructures import State

    from adpipe.context import Core
    from adpipe.events.base import Event
    from adpipe.settings import Settings
    from adpipe.storage.eventstore import NoneSince
    from adpipe.storage.subscription import Waker

NatsReady = Callable[[], Awaitable[bool]]

# uuid5 namespace for ids derived from an Idempotency-Key (see IdSource).
_IDEMPOTENT_IDS = uuid.UUID("5b0c7a36-9f57-4b6e-8d0e-7a1d2c4e9f10")


class ApiState:
    # A plain class, not a dataclass: litestar hands dependencies through msgspec, which would
    # try to rebuild a dataclass field by field instead of passing it along.

    def __init__(self, core: Core, projections: Waker, nats_ready: NatsReady | None = None):
        self.core = core
        # LISTENs on the projector's channel: waiting for a read model wakes the moment it moves.
        self.projections = projections
        self.nats_ready = nats_ready
        # One reader of the log for every live SSE stream of this process.
        self.live = LiveHub(core)
        self.limits = UserLimits(core.settings, core.pool)
        # Uploads are decoded only in its bounded children, a few at a time for the process.
        self.media = MediaInspector.from_settings(core.settings)
        # The single-query reads (documents, scenes, a client...) run on connections of their
        # own in autocommit: on core.pool each would be wrapped in BEGIN ... COMMIT, two more
        # round trips to Postgres for nothing. Opened and closed with the app (open_reads).
        settings = core.settings
        self.reads: AsyncConnectionPool[Any] = AsyncConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=settings.read_pool_size,
            open=False,
            timeout=settings.pool_timeout_seconds,
            kwargs={"autocommit": True},
            name="api-reads",
        )
        # Single-resource reads: concurrent requests share one query (see grouped_reads).
        self.lookups = Lookups(self.reads, settings.prices.currency)

    @property
    def settings(self) -> Settings:
        return self.core.settings

    async def settle(self, position: int) -> None:
        """Waits (bounded) until every read model has applied the log up to `position`."""
        await wait_for_projections(
            self.core.pool,
            PROJECTION_NAMES,
            position,
            waker=self.projections,
            within=self.settings.projection_wait_seconds,
        )

    async def record(
        self,
        stream: str,
        events: list[Event],
        expected_version: int,
        metadata: Metadata,
        ids: IdSource,
        guards: Sequence[NoneSince] = (),
    ) -> list[Envelope]:
        """Appends (refused by any guard that does not hold), then waits for the read models to
        show it (read-your-writes)."""
        batch = [
            NewEvent(event=e, id=ids.new(f"event:{stream}:{expected_version + i}"))
            for i, e in enumerate(events, start=1)
        ]
        recorded = await self.core.store.append(
            stream, batch, expected_version, metadata, guards=guards
        )
        await self.settle(recorded[-1].position)
        return recorded

    async def load_owned(self, kind: str, entity_id: str, user: str) -> list[Envelope]:
        """The stream of a live client, campaign or asset of `user`; 404 for anyone else's."""
        envelopes = await self.core.store.read_stream(stream_id(kind, entity_id))
        owner = getattr(envelopes[0].data, "user_id", None) if envelopes else None
        if owner != user or envelopes[-1].type.endswith(".deleted"):
            raise NotFound(f"{kind} {entity_id} does not exist")
        return envelopes


class IdSource:
    """New ids for one request: random, or derived from its Idempotency-Key.

    Derived ids make a retried request write the same stream names and event ids, which the
    event store records once — so even a retry after a lost reply cannot duplicate a job.
    """

    def __init__(self, user: str, key: str | None = None) -> None:
        self._seed = f"{user}\n{key}" if key else None

    def new(self, purpose: str) -> str:
        if self._seed is None:
            return str(uuid.uuid4())
        return str(uuid.uuid5(_IDEMPOTENT_IDS, f"{self._seed}\n{purpose}"))


def request_metadata(request: Request[Any, Any, Any], user: str) -> Metadata:
    request_id = request.scope.get("state", {}).get("request_id") or str(uuid.uuid4())
    return Metadata(actor=f"user:{user}", correlation_id=request_id, request_id=request_id)


async def provide_api(state: State) -> ApiState:
    api: ApiState = state.api
    return api


async def provide_user(request: Request[Any, Any, Any], api: ApiState) -> str:
    # `api` is unused but orders the two: litestar resolves dependencies that do not depend on
    # each other in an anyio task group, two new tasks per request for nothing.
    del api
    user: str = request.user
    return user
