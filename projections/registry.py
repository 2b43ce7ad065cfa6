"""Every read model, in one list: the projector runs them, the API waits on them, and
`adpipe replay rebuild`/`verify` check them."""

from __future__ import annotations

from collections.abc import Iterable

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


def projections_showing(types: Iterable[str]) -> tuple[str, ...]:
    """The read models that events of `types` change: all a writer of them needs to wait for
    to read its own write, since the others look the same before and after it."""
    wanted = set(types)
    return tuple(
        cls.name for cls in CLASSES if cls.handles is None or not cls.handles.isdisjoint(wanted)
    )
