"""/api/v3/clients: a user's clients (the brands their ads are for)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, post, put

from adpipe.domain import client
from adpipe.domain.client import CLIENTS, CreateClient, DeleteClient, ReplaceClient
from adpipe.events.party import ClientProfile

from . import reads
from .errors import problem_specs
from .fields import Color, HttpUrl, Name, OptionalText, PageNumber, PageSize
from .refs import delete_unused
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
    return client_view(reads.found(row, "client", client_id))


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
    command = CreateClient(client_id=client_id, user_id=user, profile=data.profile())
    await api.create(CLIENTS, client_id, command, request_metadata(request, user), IdSource(user))
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
    command = ReplaceClient(profile=data.profile())
    metadata = request_metadata(request, user)
    await api.execute(CLIENTS, client_id, user, command, metadata, IdSource(user))
    return await _view(api, user, client_id)


@delete(
    "/{client_id:str}",
    summary="Delete a client (not while it has campaigns or unfinished jobs)",
    responses=problem_specs(404, 409),
)
async def delete_client(
    api: ApiState, user: str, request: Request[Any, Any, Any], client_id: str
) -> None:
    async def look() -> DeleteClient:
        campaigns, active_jobs = await reads.client_dependents(api.core.pool, user, client_id)
        return DeleteClient(campaigns=campaigns, active_jobs=active_jobs)

    await delete_unused(
        api,
        CLIENTS,
        client_id,
        user,
        look,
        client.deletion_guards,
        request_metadata(request, user),
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
