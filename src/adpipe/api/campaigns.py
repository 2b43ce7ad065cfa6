"""/api/v3/campaigns: a client's campaigns; jobs may name one in their context."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, post, put

from adpipe.errors import Conflict, NotFound, ValidationFailed
from adpipe.events.catalogue import stream_id
from adpipe.events.party import (
    CampaignCreated,
    CampaignProfile,
    CampaignUpdated,
)
from adpipe.storage.eventstore import NO_STREAM

from . import reads
from .errors import problem_specs
from .fields import ClientIdFilter, Id, Money, Name, OptionalText, PageNumber, PageSize
from .refs import check_owner_refs, delete_owner
from .state import ApiState, IdSource, request_metadata
from .stats import summarize
from .views import API, CampaignPage, CampaignStats, CampaignView, campaign_view


class CampaignBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A campaign as created or fully replaced (PUT); `clientId` cannot change."""

    client_id: Id
    name: Name
    description: OptionalText = ""
    objective: OptionalText = ""
    budget: Money | None = None
    start_date: date | None = None
    end_date: date | None = None

    def profile(self) -> CampaignProfile:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationFailed(
                "the campaign ends before it starts",
                [{"field": "endDate", "message": "must not be before startDate"}],
            )
        return CampaignProfile(
            name=self.name.strip(),
            description=self.description.strip(),
            objective=self.objective.strip(),
            budget=self.budget,
            start_date=self.start_date.isoformat() if self.start_date else None,
            end_date=self.end_date.isoformat() if self.end_date else None,
        )


async def _view(api: ApiState, user: str, campaign_id: str) -> CampaignView:
    row = await api.lookups.campaigns.get(user, campaign_id)
    if row is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return campaign_view(row)


@get("/", summary="List campaigns (optionally of one client)", responses=problem_specs(422))
async def list_campaigns(
    api: ApiState,
    user: str,
    client_id: ClientIdFilter = None,
    page: PageNumber = 1,
    page_size: PageSize = 20,
) -> CampaignPage:
    rows, total = await reads.campaigns(api.core.pool, user, client_id, page, page_size)
    return CampaignPage(
        items=[campaign_view(r) for r in rows], total=total, page=page, page_size=page_size
    )


@post("/", summary="Create a campaign", responses=problem_specs(400, 413, 415, 422))
async def create_campaign(
    api: ApiState, user: str, request: Request[Any, Any, Any], data: CampaignBody
) -> Response[CampaignView]:
    profile = data.profile()
    guards = await check_owner_refs(api.core.pool, user, data.client_id, None)
    campaign_id = str(uuid.uuid4())
    event = CampaignCreated(
        campaign_id=campaign_id, user_id=user, client_id=data.client_id, profile=profile
    )
    await api.record(
        stream_id("campaign", campaign_id),
        [event],
        NO_STREAM,
        request_metadata(request, user),
        IdSource(user),
        guards,
    )
    view = await _view(api, user, campaign_id)
    return Response(view, status_code=201, headers={"location": f"{API}/campaigns/{campaign_id}"})


@get("/{campaign_id:str}", summary="Get a campaign", responses=problem_specs(404))
async def get_campaign(api: ApiState, user: str, campaign_id: str) -> CampaignView:
    return await _view(api, user, campaign_id)


@put(
    "/{campaign_id:str}",
    summary="Replace a campaign",
    responses=problem_specs(400, 404, 409, 413, 415, 422),
)
async def update_campaign(
    api: ApiState,
    user: str,
    request: Request[Any, Any, Any],
    campaign_id: str,
    data: CampaignBody,
) -> CampaignView:
    envelopes = await api.load_owned("campaign", campaign_id, user)
    created = envelopes[0].data
    assert isinstance(created, CampaignCreated)
    if data.client_id != created.client_id:
        raise ValidationFailed(
            "a campaign cannot move to another client",
            [{"field": "clientId", "message": f"must stay {created.client_id}"}],
        )
    await api.record(
        stream_id("campaign", campaign_id),
        [CampaignUpdated(profile=data.profile())],
        envelopes[-1].version,
        request_metadata(request, user),
        IdSource(user),
    )
    return await _view(api, user, campaign_id)


@delete(
    "/{campaign_id:str}",
    summary="Delete a campaign (not while it has unfinished jobs)",
    responses=problem_specs(404, 409),
)
async def delete_campaign(
    api: ApiState, user: str, request: Request[Any, Any, Any], campaign_id: str
) -> None:
    async def check_unused() -> None:
        active = await reads.campaign_active_jobs(api.core.pool, user, campaign_id)
        if active:
            raise Conflict(
                f"campaign {campaign_id} still has {active} unfinished"
                f" job{'s' * (active != 1)}; let them finish (or cancel them) first"
            )

    await delete_owner(
        api, user, "campaign", campaign_id, check_unused, request_metadata(request, user)
    )


@get(
    "/{campaign_id:str}/stats",
    summary="A campaign's job, video, cost and asset totals",
    responses=problem_specs(404),
)
async def campaign_stats(api: ApiState, user: str, campaign_id: str) -> CampaignStats:
    view = await _view(api, user, campaign_id)
    rows, assets = await reads.stats(api.core.pool, user, "campaign_id", campaign_id)
    return CampaignStats(
        campaign_id=campaign_id,
        client_id=view.client_id,
        **summarize(rows, assets, api.settings.prices.currency),
    )


router = Router(
    path="/campaigns",
    route_handlers=[
        list_campaigns,
        create_campaign,
        get_campaign,
        update_campaign,
        delete_campaign,
        campaign_stats,
    ],
    tags=["campaigns"],
)
