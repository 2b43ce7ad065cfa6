"""/api/v3/webhooks: a user's webhook subscriptions, their secrets and their deliveries.

Handlers are thin: `adpipe.webhooks.manage.Webhooks` holds the rules. They rely on the
app providing `api` (ApiState) and `user` (the key's user id), like every /api/v3 router.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, delete, get, post, put
from msgspec import Meta

from adpipe.domain.webhook import MAX_DESCRIPTION_LENGTH
from adpipe.webhooks.manage import (
    SecretRotated,
    SubscribeRequest,
    TestSent,
    UpdateRequest,
    WebhookCreated,
    Webhooks,
    WebhookView,
)
from adpipe.webhooks.outbox import Delivery
from adpipe.webhooks.patterns import EVENT_FILTERS

from .errors import problem_specs
from .fields import NO_NUL, HttpUrl, PageNumber, PageSize
from .state import ApiState, request_metadata
from .views import API

if TYPE_CHECKING:
    EventFilter = str
else:
    # "*", each kind's "<kind>.*" and every event type: an enum in the OpenAPI contract.
    EventFilter = Literal[tuple(EVENT_FILTERS)]
EventFilters = Annotated[list[EventFilter], Meta(min_length=1, max_length=100)]
# The limit `Webhooks` enforces, stated here so the schema says it.
Description = Annotated[str, Meta(max_length=MAX_DESCRIPTION_LENGTH, pattern=NO_NUL)]


class SubscribeBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    url: HttpUrl
    # "*", a kind ("job.*") or exact types ("job.render_completed").
    events: EventFilters
    description: Description = ""


class UpdateBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Fields left out keep their values."""

    url: HttpUrl | None = None
    events: EventFilters | None = None
    enabled: bool | None = None
    description: Description | None = None


class WebhookPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[WebhookView]
    total: int
    page: int
    page_size: int


class DeliveryPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Delivery]
    total: int
    page: int
    page_size: int


def _webhooks(api: ApiState) -> Webhooks:
    return Webhooks(api.core, projections_waker=api.projections)


DELIVERY = """Each matching event of yours is POSTed to the URL as the event envelope (JSON,
camelCase), signed per Standard Webhooks: headers `webhook-id` (the event id; deduplicate on
it, delivery is at least once), `webhook-timestamp` and `webhook-signature` (HMAC-SHA256 with
the `whsec_` secret; two signatures for a while after a rotation). One job's events arrive in
order. Any 2xx within 15 s counts as delivered; otherwise it is retried 5 s, 5 min, 30 min,
2 h, 5 h, 10 h and 10 h later (with jitter), and an endpoint failing for 5 days is disabled
(a `webhook.disabled` event). Redirects are not followed."""


@post(
    "/",
    summary="Subscribe a URL to events; the answer holds the signing secret, shown only once",
    description=DELIVERY,
    responses=problem_specs(400, 413, 415, 422),
)
async def create_webhook(
    api: ApiState, user: str, request: Request[Any, Any, Any], data: SubscribeBody
) -> Response[WebhookCreated]:
    await api.limits.check_webhooks(user)
    created = await _webhooks(api).subscribe(
        user,
        SubscribeRequest(url=data.url, events=data.events, description=data.description),
        request_metadata(request, user),
    )
    return Response(created, status_code=201, headers={"location": f"{API}/webhooks/{created.id}"})


@get("/", summary="List webhooks", responses=problem_specs(422))
async def list_webhooks(
    api: ApiState, user: str, page: PageNumber = 1, page_size: PageSize = 20
) -> WebhookPage:
    items, total = await _webhooks(api).list_webhooks(user, page=page, page_size=page_size)
    return WebhookPage(items=items, total=total, page=page, page_size=page_size)


@get("/{webhook_id:str}", summary="Get a webhook", responses=problem_specs(404))
async def get_webhook(api: ApiState, user: str, webhook_id: str) -> WebhookView:
    return await _webhooks(api).get(user, webhook_id)


@put(
    "/{webhook_id:str}",
    summary="Change a webhook's URL, events, description, or enable it again",
    responses=problem_specs(400, 404, 409, 413, 415, 422),
)
async def update_webhook(
    api: ApiState, user: str, request: Request[Any, Any, Any], webhook_id: str, data: UpdateBody
) -> WebhookView:
    change = UpdateRequest(
        url=data.url, events=data.events, enabled=data.enabled, description=data.description
    )
    return await _webhooks(api).update(user, webhook_id, change, request_metadata(request, user))


@delete("/{webhook_id:str}", summary="Delete a webhook", responses=problem_specs(404, 409))
async def delete_webhook(
    api: ApiState, user: str, request: Request[Any, Any, Any], webhook_id: str
) -> None:
    await _webhooks(api).delete(user, webhook_id, request_metadata(request, user))


@post(
    "/{webhook_id:str}/rotate-secret",
    status_code=200,
    summary="A new signing secret; the old one keeps signing for a grace period",
    responses=problem_specs(404, 409),
)
async def rotate_secret(
    api: ApiState, user: str, request: Request[Any, Any, Any], webhook_id: str
) -> SecretRotated:
    return await _webhooks(api).rotate_secret(user, webhook_id, request_metadata(request, user))


@post(
    "/{webhook_id:str}/test",
    status_code=202,
    summary="Send a webhook.test event to this webhook",
    responses=problem_specs(404, 409),
)
async def send_test(
    api: ApiState, user: str, request: Request[Any, Any, Any], webhook_id: str
) -> TestSent:
    return await _webhooks(api).send_test(user, webhook_id, request_metadata(request, user))


@get(
    "/{webhook_id:str}/deliveries",
    summary="Deliveries, newest first, with every attempt (status, latency, error, next retry)",
    responses=problem_specs(404, 422),
)
async def list_deliveries(
    api: ApiState, user: str, webhook_id: str, page: PageNumber = 1, page_size: PageSize = 20
) -> DeliveryPage:
    items, total = await _webhooks(api).deliveries(user, webhook_id, page=page, page_size=page_size)
    return DeliveryPage(items=items, total=total, page=page, page_size=page_size)


@post(
    "/{webhook_id:str}/deliveries/{delivery_id:str}/retry",
    status_code=202,
    summary="Send one delivery again now, with a fresh retry schedule",
    responses=problem_specs(404, 409),
)
async def retry_delivery(api: ApiState, user: str, webhook_id: str, delivery_id: str) -> None:
    await _webhooks(api).retry_delivery(user, webhook_id, delivery_id)


router = Router(
    path="/webhooks",
    route_handlers=[
        create_webhook,
        list_webhooks,
        get_webhook,
        update_webhook,
        delete_webhook,
        rotate_secret,
        send_test,
        list_deliveries,
        retry_delivery,
    ],
    tags=["webhooks"],
)
