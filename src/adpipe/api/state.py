"""What every handler shares: the core, the projections' waker, and read-your-writes waiting."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from litestar.di import Provide
from psycopg_pool import AsyncConnectionPool

from adpipe import resources
from adpipe.domain.resource import Aggregate, ResourceState
from adpipe.events.catalogue import Metadata
from adpipe.media import MediaInspector
from adpipe.projections import PROJECTION_NAMES, projections_showing
from adpipe.projector import ProjectionsWatch

from .grouped_reads import Lookups, ReadCache
from .limits import UserLimits
from .livehub import LiveHub

if TYPE_CHECKING:
    from litestar import Request

    from adpipe.context import Core
    from adpipe.domain.guards import NoneSince
    from adpipe.events.catalogue import Envelope
    from adpipe.settings import Settings
    from adpipe.storage.subscription import Waker

S = TypeVar("S", bound=ResourceState)
C = TypeVar("C")
NatsReady = Callable[[], Awaitable[bool]]

# uuid5 namespace for ids derived from an Idempotency-Key (see IdSource).
_IDEMPOTENT_IDS = uuid.UUID("5b0c7a36-9f57-4b6e-8d0e-7a1d2c4e9f10")


class ApiState:
    # A plain class, not a dataclass: litestar hands dependencies through msgspec, which would
    # try to rebuild a dataclass field by field instead of passing it along.

    def __init__(self, core: Core, projections: Waker, nats_ready: NatsReady | None = None):
        self.core = core
        settings = core.settings
        # LISTENs on the projector's channel: waiting for a read model wakes the moment it moves.
        self.projections = projections
        # Rows of single-resource reads, kept until a read model moves (see grouped_reads).
        self.read_cache = ReadCache(settings.read_cache_seconds, projections.listening.is_set)
        projections.on_change.append(self.read_cache.forget)
        # Every request waiting for its write to be readable shares one reader of the checkpoints.
        self.read_models = ProjectionsWatch(
            core.pool, PROJECTION_NAMES, projections, on_reached=self.read_cache.forget
        )
        self.nats_ready = nats_ready
        # One reader of the log for every live SSE stream of this process.
        self.live = LiveHub(core)
        self.limits = UserLimits(core.settings, core.pool)
        # Uploads are decoded only in its bounded children, a few at a time for the process.
        self.media = MediaInspector.from_settings(core.settings)
        # The single-query reads (documents, scenes, a client...) run on connections of their
        # own in autocommit: on core.pool each would be wrapped in BEGIN ... COMMIT, two more
        # round trips to Postgres for nothing. Opened and closed with the app (open_reads).
        self.reads: AsyncConnectionPool[Any] = AsyncConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=settings.read_pool_size,
            max_idle=settings.pool_max_idle_seconds,
            open=False,
            timeout=settings.pool_timeout_seconds,
            kwargs={"autocommit": True},
            name="api-reads",
        )
        # Single-resource reads: concurrent requests share one query (see grouped_reads).
        self.lookups = Lookups(self.reads, settings.prices.currency, self.read_cache)

    @property
    def settings(self) -> Settings:
        return self.core.settings

    async def settle(self, position: int, types: Iterable[str] | None = None) -> None:
        """Waits (bounded) until the read models have applied the log up to `position`: those
        that events of `types` change when the caller names what it wrote, else every one."""
        names = None if types is None else projections_showing(types)
        await self.read_models.wait(position, self.settings.projection_wait_seconds, names)

    async def create(
        self,
        aggregate: Aggregate[S, C],
        entity_id: str,
        command: C,
        metadata: Metadata,
        ids: IdSource,
        guards: Sequence[NoneSince] = (),
    ) -> list[Envelope]:
        """A new resource (see `resources.create`), then waits for the read models to show it
        (read-your-writes)."""
        recorded = await resources.create(
            self.core.store, aggregate, entity_id, command, metadata, new_id=ids.new, guards=guards
        )
        await self.settle(recorded[-1].position, [e.type for e in recorded])
        return recorded

    async def execute(
        self,
        aggregate: Aggregate[S, C],
        entity_id: str,
        user: str,
        command: C,
        metadata: Metadata,
        ids: IdSource,
        guards: Sequence[NoneSince] = (),
    ) -> None:
        """A command on `user`'s resource (see `resources.execute`: refused by its aggregate, or
        by any guard that does not hold), then waits for the read models to show it."""
        _, recorded = await resources.execute(
            self.core.store,
            aggregate,
            entity_id,
            user,
            command,
            metadata,
            new_id=ids.new,
            guards=guards,
            retries=self.settings.append_retries,
        )
        if recorded:
            await self.settle(recorded[-1].position, [e.type for e in recorded])


class IdSource:
    """New ids for one request: random, or derived from its Idempotency-Key.

    Derived ids make a retried request write the same stream names and event ids, which the
    event store records once — so even a retry after a lost reply cannot duplicate a job.
    """

    def __init__(self, user: str, key: str | None = None) -> None:
        self._seed = f"{user}\n{key}" if key else None

    @property
    def derived(self) -> bool:
        """Whether the ids repeat a previous attempt's (an Idempotency-Key): only then can what
        they name exist already."""
        return self._seed is not None

    def new(self, purpose: str) -> str:
        if self._seed is None:
            return str(uuid.uuid4())
        return str(uuid.uuid5(_IDEMPOTENT_IDS, f"{self._seed}\n{purpose}"))


def request_metadata(request: Request[Any, Any, Any], user: str) -> Metadata:
    request_id = request.scope.get("state", {}).get("request_id") or str(uuid.uuid4())
    return Metadata(actor=f"user:{user}", correlation_id=request_id, request_id=request_id)


def api_provider(api: ApiState) -> Provide:
    """The `api` dependency: one ApiState for the app's life, so litestar keeps the first answer
    (`use_cache`); without parameters it parses nothing per request."""

    def provide_api() -> ApiState:
        return api

    return Provide(provide_api, use_cache=True, sync_to_thread=False)


async def provide_user(request: Request[Any, Any, Any], api: ApiState) -> str:
    # `api` is unused but orders the two: litestar resolves dependencies that do not depend on
    # each other in an anyio task group, two new tasks per request for nothing.
    del api
    user: str = request.user
    return user
