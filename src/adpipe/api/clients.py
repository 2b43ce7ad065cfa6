"""/api/v3/clients: a user's clients (the brands their ads are for)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, post, put

from adpipe.errors import Conflict, NotFound
from adpipe.events.catalogue import stream_id
from adpipe.events.party import ClientCreated, ClientProfile, ClientUpdated
from adpipe.storage.eventstore import NO_STREAM

from . import reads
from .errors import problem_specs
from .fields import Color, HttpUrl, Name, OptionalText, PageNumber, PageSize
from .refs import delete_owner
from .state import ApiState, IdSource, request_metadata
from .stats import summarize
from .views import API, ClientPage, ClientStats, ClientView, client_view


class ClientBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A client as created or fully replaced (PUT): omitted optional fields are reset."""

    name: Name
    description: OptionalText = ""
    website: HttpUrl | None = None
    brand_colors: list[Color] = msgspec.field(default_factory=list)

    def profile(self) -> ClientProfile:
        return ClientProfile(
            name=self.name.strip(),
            description=self.description.strip(),
            website=self.website,
            brand_colors=[c.lower() for c in self.brand_colors[:20]],
        )


async def _view(api: ApiState, user: str, client_id: str) -> ClientView:
    row = await api.lookups.clients.get(user, client_id)
    if row is None:
        raise NotFound(f"client {client_id} does not exist")
    return client_view(row)


@get("/", summary="List clients", responses=problem_specs(422))
async def list_clients(
    api: ApiState, user: str, page: PageNumber = 1, page_size: PageSize = 20
) -> ClientPage:
    rows, total = await reads.clients(api.core.pool, user, page, page_size)
    return ClientPage(
        items=[client_view(r) for r in rows], total=total, page=page, page_size=page_size
    )


@post("/", summary="Create a client", responses=problem_specs(400, 413, 415, 422))
async def create_client(
    api: ApiState, user: str, request: Request[Any, Any, Any], data: ClientBody
) -> Response[ClientView]:
    client_id = str(uuid.uuid4())
    event = ClientCreated(client_id=client_id, user_id=user, profile=data.profile())
    await api.record(
        stream_id("client", client_id),
        [event],
        NO_STREAM,
        request_metadata(request, user),
        IdSource(user),
    )
    view = await _view(api, user, client_id)
    return Response(view, status_code=201, headers={"location": f"{API}/clients/{client_id}"})


@get("/{client_id:str}", summary="Get a client", responses=problem_specs(404))
async def get_client(api: ApiState, user: str, client_id: str) -> ClientView:
    return await _view(api, user, client_id)


@put(
    "/{client_id:str}",
    summary="Replace a client",
    responses=problem_specs(400, 404, 409, 413, 415, 422),
)
async def update_client(
    api: ApiState, user: str, request: Request[Any, Any, Any], client_id: str, data: ClientBody
) -> ClientView:
    envelopes = await api.load_owned("client", client_id, user)
    await api.record(
        stream_id("client", client_id),
        [ClientUpdated(profile=data.profile())],
        envelopes[-1].version,
        request_metadata(request, user),
        IdSource(user),
    )
    return await _view(api, user, client_id)


@delete(
    "/{client_id:str}",
    summary="Delete a client (not while it has campaigns or unfinished jobs)",
    responses=problem_specs(404, 409),
)
async def delete_client(
    api: ApiState, user: str, request: Request[Any, Any, Any], client_id: str
) -> None:
    async def check_unused() -> None:
        campaigns, active_jobs = await reads.client_dependents(api.core.pool, user, client_id)
        if campaigns or active_jobs:
            reasons = []
            if campaigns:
                reasons.append(f"{campaigns} campaign{'s' * (campaigns != 1)}")
            if active_jobs:
                reasons.append(f"{active_jobs} unfinished job{'s' * (active_jobs != 1)}")
            raise Conflict(
                f"client {client_id} still has {' and '.join(reasons)}; delete its campaigns"
                " and let its jobs finish (or cancel them) first"
            )

    await delete_owner(
        api, user, "client", client_id, check_unused, request_metadata(request, user)
    )


@get(
    "/{client_id:str}/stats",
    summary="A client's job, video, cost and asset totals",
    responses=problem_specs(404),
)
async def client_stats(api: ApiState, user: str, client_id: str) -> ClientStats:
    await _view(api, user, client_id)
    rows, assets = await reads.stats(api.core.pool, user, "client_id", client_id)
    campaign_count, _ = await reads.client_dependents(api.core.pool, user, client_id)
    return ClientStats(
        client_id=client_id,
        campaigns=campaign_count,
        **summarize(rows, assets, api.settings.prices.currency),
    )


router = Router(
    path="/clients",
    route_handlers=[
        list_clients,
        create_client,
        get_client,
        update_client,
        delete_client,
        client_stats,
    ],
    tags=["clients"],
)
