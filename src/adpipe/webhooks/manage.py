"""Managing subscriptions for the API: subscribe, read, update, delete, rotate, test, deliveries.

Writes are events on `webhook-<id>` (the secret stays in `webhook_secrets`); a URL with credentials
in it (`?token=…`, `user:pass@`) is recorded redacted, the full URL kept in `url_secrets` for the
sender while the webhook exists. Single reads fold the stream, the list reads the `webhooks` read
model after waiting for it to reach our own writes. Another user's webhook answers NotFound, never
a hint that it exists.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from adpipe import resources
from adpipe.domain.resource import Command
from adpipe.domain.webhook import (
    WEBHOOKS,
    Delete,
    RotateSecret,
    SendTest,
    Subscribe,
    Update,
    WebhookState,
    decide,
    fold,
    require_enabled,
)
from adpipe.errors import NotFound
from adpipe.events.catalogue import Envelope, Metadata, stream_id
from adpipe.net import DownloadError, UrlGuard
from adpipe.net.redact import redact_text, redact_url
from adpipe.projector import wait_for_projections
from adpipe.storage import url_secrets
from adpipe.storage.eventstore import NO_STREAM

from . import outbox, signing

if TYPE_CHECKING:
    from adpipe.context import Core
    from adpipe.settings import WebhookConfig
    from adpipe.storage.subscription import Waker

READ_MODEL = "webhooks"
MAX_URL_LENGTH = 2048


class SubscribeRequest(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    url: str
    events: list[str]
    description: str = ""


class UpdateRequest(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Fields left out keep their values."""

    url: str | None = None
    events: list[str] | None = None
    enabled: bool | None = None
    description: str | None = None


class WebhookView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None = None


class WebhookCreated(WebhookView, frozen=True, kw_only=True):
    """The subscription as created, with its signing secret — shown this once only."""

    secret: str


class SecretRotated(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    secret: str
    # Until then the old secret signs too (a second `v1,` signature).
    previous_secret_expires_at: datetime


class TestSent(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    event_id: str
    position: int


def view_of(state: WebhookState) -> WebhookView:
    assert state.created_at is not None and state.updated_at is not None
    return WebhookView(
        id=state.webhook_id,
        url=state.url,
        events=list(state.events),
        description=state.description,
        enabled=state.enabled,
        disabled_reason=state.disabled_reason,
        created_at=state.created_at,
        updated_at=state.updated_at,
        secret_rotated_at=state.secret_rotated_at,
    )


class Webhooks:
    def __init__(
        self,
        core: Core,
        *,
        config: WebhookConfig | None = None,
        guard: UrlGuard | None = None,
        projections_waker: Waker | None = None,
    ) -> None:
        self.core = core
        # Listening on the projector's channel, so read-your-writes waits wake at once.
        self.projections_waker = projections_waker
        self.config = config or core.settings.webhooks
        self.guard = guard or UrlGuard(allow_private=core.settings.allow_private_urls)

    # ---- writes ---------------------------------------------------------------------------

    async def subscribe(
        self, user_id: str, request: SubscribeRequest, metadata: Metadata | None = None
    ) -> WebhookCreated:
        webhook_id = str(uuid.uuid4())
        command = Subscribe(
            webhook_id=webhook_id,
            user_id=user_id,
            url=redact_url(request.url),
            events=request.events,
            description=request.description,
            url_problem=await self._url_problem(request.url),
        )
        # Decided before anything is kept: a refused subscription leaves no secret behind.
        events = decide(WebhookState(), command)
        secret = signing.new_secret()
        async with self.core.pool.connection() as conn:
            await signing.store_secret(conn, webhook_id, secret)
        # Like the signing secret, the URL's credentials are kept before the event, never in it.
        await url_secrets.remember(self.core.pool, "webhook", {webhook_id: request.url})
        try:
            recorded = await self.core.store.append(
                _stream(webhook_id), events, NO_STREAM, metadata or _metadata(user_id)
            )
        except Exception:
            await url_secrets.forget(self.core.pool, "webhook", [webhook_id])
            raise
        await self._settle(recorded)
        view = view_of(fold(recorded))
        return WebhookCreated(**msgspec.structs.asdict(view), secret=secret)

    async def update(
        self,
        user_id: str,
        webhook_id: str,
        request: UpdateRequest,
        metadata: Metadata | None = None,
    ) -> WebhookView:
        state = await self._load(user_id, webhook_id)
        command = Update(
            # The event records the URL redacted, so a change of token alone appends nothing.
            url=redact_url(request.url) if request.url is not None else None,
            events=request.events,
            enabled=request.enabled,
            description=request.description,
            url_problem=(
                await self._url_problem(request.url)
                if request.url is not None and request.url != state.url
                else None
            ),
        )
        decide(state, command)  # refused before the URL below is kept for the sender
        if request.url is not None:
            # The full URL first (or its row dropped if the new one has no credentials).
            await url_secrets.remember(self.core.pool, "webhook", {webhook_id: request.url})
        return view_of(await self._execute(user_id, webhook_id, command, metadata))

    async def delete(self, user_id: str, webhook_id: str, metadata: Metadata | None = None) -> None:
        await self._execute(user_id, webhook_id, Delete(), metadata)
        async with self.core.pool.connection() as conn:
            await signing.delete_secret(conn, webhook_id)
        await url_secrets.forget(self.core.pool, "webhook", [webhook_id])

    async def rotate_secret(
        self, user_id: str, webhook_id: str, metadata: Metadata | None = None
    ) -> SecretRotated:
        await self._load(user_id, webhook_id)
        secret = signing.new_secret()
        grace = self.config.secret_grace_seconds
        async with self.core.pool.connection() as conn:
            await signing.rotate_secret(conn, webhook_id, secret, grace)
            cur = await conn.execute(
                "SELECT previous_expires_at FROM webhook_secrets WHERE webhook_id = %s",
                [webhook_id],
            )
            row = await cur.fetchone()
        assert row is not None
        await self._execute(user_id, webhook_id, RotateSecret(), metadata)
        return SecretRotated(secret=secret, previous_secret_expires_at=row[0])

    async def send_test(
        self, user_id: str, webhook_id: str, metadata: Metadata | None = None
    ) -> TestSent:
        _, recorded = await resources.execute(
            self.core.store,
            WEBHOOKS,
            webhook_id,
            user_id,
            SendTest(),
            metadata or _metadata(user_id),
            retries=self.core.settings.append_retries,
        )
        return TestSent(event_id=recorded[0].id, position=recorded[0].position)

    async def retry_delivery(self, user_id: str, webhook_id: str, delivery_id: str) -> None:
        require_enabled(await self._load(user_id, webhook_id), "resending")
        if not _is_uuid(delivery_id):
            raise NotFound(f"delivery {delivery_id} does not exist")
        async with self.core.pool.connection() as conn:
            if not await outbox.resend(conn, webhook_id, delivery_id):
                raise NotFound(f"delivery {delivery_id} does not exist")

    # ---- reads ----------------------------------------------------------------------------

    async def get(self, user_id: str, webhook_id: str) -> WebhookView:
        return view_of(await self._load(user_id, webhook_id))

    async def list_webhooks(
        self, user_id: str, *, page: int = 1, page_size: int = 20
    ) -> tuple[list[WebhookView], int]:
        """One page, newest first, and the user's total."""
        async with self.core.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, url, events, description, enabled, disabled_reason, created_at,"
                " updated_at, secret_rotated_at, count(*) OVER () FROM webhooks"
                " WHERE user_id = %s ORDER BY created_at DESC, id LIMIT %s OFFSET %s",
                [user_id, page_size, (page - 1) * page_size],
            )
            rows = await cur.fetchall()
            if rows:
                total = int(rows[0][9])
            else:
                cur = await conn.execute(
                    "SELECT count(*) FROM webhooks WHERE user_id = %s", [user_id]
                )
                total = int((await cur.fetchone() or (0,))[0])
        items = [
            WebhookView(
                id=r[0],
                url=r[1],
                events=list(r[2]),
                description=r[3],
                enabled=r[4],
                disabled_reason=r[5],
                created_at=r[6],
                updated_at=r[7],
                secret_rotated_at=r[8],
            )
            for r in rows
        ]
        return items, total

    async def deliveries(
        self, user_id: str, webhook_id: str, *, page: int = 1, page_size: int = 20
    ) -> tuple[list[outbox.Delivery], int]:
        """One page of the subscription's deliveries, newest first, and their total."""
        await self._load(user_id, webhook_id)
        async with self.core.pool.connection() as conn:
            return await outbox.list_deliveries(
                conn, webhook_id, limit=page_size, offset=(page - 1) * page_size
            )

    # ---- helpers --------------------------------------------------------------------------

    async def _load(self, user_id: str, webhook_id: str) -> WebhookState:
        state = fold(await self.core.store.read_stream(_stream(webhook_id)))
        if not state.exists or state.user_id != user_id:
            raise NotFound(f"webhook {webhook_id} does not exist")
        return state

    async def _execute(
        self, user_id: str, webhook_id: str, command: Command, metadata: Metadata | None
    ) -> WebhookState:
        """Decided and appended (`resources.execute`), then the list shows it."""
        state, recorded = await resources.execute(
            self.core.store,
            WEBHOOKS,
            webhook_id,
            user_id,
            command,
            metadata or _metadata(user_id),
            retries=self.core.settings.append_retries,
        )
        if recorded:
            await self._settle(recorded)
        return state

    async def _settle(self, recorded: list[Envelope]) -> None:
        """Read-your-writes: the list shows this change once the call returns."""
        await wait_for_projections(
            self.core.pool,
            [READ_MODEL],
            recorded[-1].position,
            waker=self.projections_waker,
            within=self.core.settings.projection_wait_seconds,
        )

    async def _url_problem(self, url: str) -> str | None:
        if len(url) > MAX_URL_LENGTH:
            return f"at most {MAX_URL_LENGTH} characters"
        try:
            # The same guard as downloads: scheme, then every address the host resolves to.
            await self.guard.check_url(url)
        except DownloadError as exc:
            return exc.detail
        except ValueError as exc:  # not a URL at all
            return redact_text(f"not a valid URL: {exc}")
        return None


def _stream(webhook_id: str) -> str:
    return stream_id("webhook", webhook_id)


def _metadata(user_id: str) -> Metadata:
    return Metadata(actor=f"user:{user_id}")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
