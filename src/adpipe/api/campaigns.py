"""/api/v3/campaigns: a client's campaigns; jobs may name one in their context."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, delete, get, post, put
from msgspec import Meta

from adpipe.domain import campaign
from adpipe.domain.campaign import CAMPAIGNS, CreateCampaign, DeleteCampaign, ReplaceCampaign
from adpipe.events.party import CampaignProfile

from . import reads
from .errors import problem_specs
from .fields import ClientIdFilter, Id, Money, Name, OptionalText, PageNumber, PageSize
from .refs import check_owner_refs, delete_unused
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
    # JSON Schema cannot compare two fields: the rule is stated in words.
    end_date: Annotated[date, Meta(description="Not before startDate (else 422)")] | None = None

    def profile(self) -> CampaignProfile:
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
    return campaign_view(reads.found(row, "campaign", campaign_id))


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


@post("/", summary="Create a campaign", responses=problem_specs(400, 409, 413, 415, 422))
async def create_campaign(
    api: ApiState, user: str, request: Request[Any, Any, Any], data: CampaignBody
) -> Response[CampaignView]:
    campaign_id = str(uuid.uuid4())
    command = CreateCampaign(
        campaign_id=campaign_id, user_id=user, client_id=data.client_id, profile=data.profile()
    )
    guards = await check_owner_refs(api.core.pool, user, data.client_id, None)
    metadata = request_metadata(request, user)
    await api.create(CAMPAIGNS, campaign_id, command, metadata, IdSource(user), guards)
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
    command = ReplaceCampaign(client_id=data.client_id, profile=data.profile())
    metadata = request_metadata(request, user)
    await api.execute(CAMPAIGNS, campaign_id, user, command, metadata, IdSource(user))
    return await _view(api, user, campaign_id)


@delete(
    "/{campaign_id:str}",
    summary="Delete a campaign (not while it has unfinished jobs)",
    responses=problem_specs(404, 409),
)
async def delete_campaign(
    api: ApiState, user: str, request: Request[Any, Any, Any], campaign_id: str
) -> None:
    async def look() -> DeleteCampaign:
        active = await reads.campaign_active_jobs(api.core.pool, user, campaign_id)
        return DeleteCampaign(active_jobs=active)

    await delete_unused(
        api,
        CAMPAIGNS,
        campaign_id,
        user,
        look,
        campaign.deletion_guards,
        request_metadata(request, user),
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
