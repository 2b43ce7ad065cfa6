"""The `clients` read model: one row per live client, deleted with the client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from adpipe.events.party import ClientCreated, ClientDeleted, ClientUpdated
from adpipe.projector import Projection

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from adpipe.events.catalogue import Envelope


class ClientsProjection(Projection):
    name = "clients"
    tables = ("clients",)
    handles = frozenset({"client.created", "client.updated", "client.deleted"})

    async def apply(self, conn: AsyncConnection[Any], envelope: Envelope) -> None:
        event = envelope.data
        match event:
            case ClientCreated(profile=p):
                await conn.execute(
                    "INSERT INTO clients (id, user_id, name, description, website, brand_colors,"
                    " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s)"
                    " ON CONFLICT (id) DO NOTHING",
                    [
                        event.client_id,
                        event.user_id,
                        p.name,
                        p.description,
                        p.website,
                        msgspec.json.encode(p.brand_colors).decode(),
                        envelope.recorded_at,
                        envelope.recorded_at,
                    ],
                )
            case ClientUpdated(profile=p):
                await conn.execute(
                    "UPDATE clients SET name = %s, description = %s, website = %s,"
                    " brand_colors = %s::jsonb, updated_at = %s WHERE id = %s",
                    [
                        p.name,
                        p.description,
                        p.website,
                        msgspec.json.encode(p.brand_colors).decode(),
                        envelope.recorded_at,
                        envelope.entity_id,
                    ],
                )
            case ClientDeleted():
                await conn.execute("DELETE FROM clients WHERE id = %s", [envelope.entity_id])
