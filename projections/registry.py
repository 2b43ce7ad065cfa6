"""Every read model, in one list: the projector runs them, the API waits on them, and
`adpipe replay rebuild`/`verify` check them."""

from __future__ import annotations

from adpipe.projector import Projection

from .assets import AssetsProjection
from .campaigns import CampaignsProjection
from .clients import ClientsProjection
from .jobs import JobsProjection
from .webhooks import WebhooksProjection

CLASSES: tuple[type[Projection], ...] = (
    ClientsProjection,
    CampaignsProjection,
    AssetsProjection,
    JobsProjection,
    WebhooksProjection,
)
PROJECTION_NAMES: tuple[str, ...] = tuple(cls.name for cls in CLASSES)


def all_projections() -> list[Projection]:
    """Fresh instances of every projection (the projector owns them)."""
    return [cls() for cls in CLASSES]
