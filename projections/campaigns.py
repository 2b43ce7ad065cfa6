"""The `campaigns` read model: one row per live campaign, deleted with the campaign."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adpipe.events.party import CampaignCreated, CampaignDeleted, CampaignUpdated
from adpipe.projector import Projection

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from adpipe.events.catalogue import Envelope


class CampaignsProjection(Projection):
    name = "campaigns"
    tables = ("campaigns",)
    handles = frozenset({"campaign.created", "campaign.updated", "campaign.deleted"})

    async def apply(self, conn: AsyncConnection[Any], envelope: Envelope) -> None:
        event = envelope.data
        match event:
            case CampaignCreated(profile=p):
                await conn.execute(
                    "INSERT INTO campaigns (id, user_id, client_id, name, description, objective,"
                    " budget, start_date, end_date, created_at, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (id) DO NOTHING",
                    [
                        event.campaign_id,
                        event.user_id,
                        event.client_id,
                        p.name,
                        p.description,
                        p.objective,
                        p.budget,
                        p.start_date,
                        p.end_date,
                        envelope.recorded_at,
                        envelope.recorded_at,
                    ],
                )
            case CampaignUpdated(profile=p):
                await conn.execute(
                    "UPDATE campaigns SET name = %s, description = %s, objective = %s,"
                    " budget = %s, start_date = %s, end_date = %s, updated_at = %s WHERE id = %s",
                    [
                        p.name,
                        p.description,
                        p.objective,
                        p.budget,
                        p.start_date,
                        p.end_date,
                        envelope.recorded_at,
                        envelope.entity_id,
                    ],
                )
            case CampaignDeleted():
                await conn.execute("DELETE FROM campaigns WHERE id = %s", [envelope.entity_id])
