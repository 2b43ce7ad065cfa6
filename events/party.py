"""Events of clients (`client-<id>`) and campaigns (`campaign-<id>`), the user's organisation."""

from __future__ import annotations

import msgspec

from .base import Event


class ClientProfile(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    name: str
    description: str = ""
    website: str | None = None
    brand_colors: list[str] = []


class ClientCreated(Event, frozen=True, kw_only=True, tag="client.created"):
    client_id: str
    user_id: str
    profile: ClientProfile


class ClientUpdated(Event, frozen=True, kw_only=True, tag="client.updated"):
    """A full replacement of the profile (PUT semantics)."""

    profile: ClientProfile


class ClientDeleted(Event, frozen=True, kw_only=True, tag="client.deleted"):
    pass


class CampaignProfile(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    name: str
    description: str = ""
    objective: str = ""
    budget: float | None = None
    start_date: str | None = None
    end_date: str | None = None


class CampaignCreated(Event, frozen=True, kw_only=True, tag="campaign.created"):
    campaign_id: str
    user_id: str
    client_id: str
    profile: CampaignProfile


class CampaignUpdated(Event, frozen=True, kw_only=True, tag="campaign.updated"):
    profile: CampaignProfile


class CampaignDeleted(Event, frozen=True, kw_only=True, tag="campaign.deleted"):
    pass


PARTY_EVENTS: tuple[type[Event], ...] = (
    ClientCreated,
    ClientUpdated,
    ClientDeleted,
    CampaignCreated,
    CampaignUpdated,
    CampaignDeleted,
)
