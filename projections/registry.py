"""Every read model, in one list: the projector runs them, the API waits on them.

The four behind /api/v3 are always here; optional ones (webhooks) join when their module exists,
so `adpipe up`, `adpipe replay rebuild` and read-your-writes all see the same set.
"""

from __future__ import annotations

import importlib
import importlib.util

from adpipe.projector import Projection

from .assets import AssetsProjection
from .campaigns import CampaignsProjection
from .clients import ClientsProjection
from .jobs import JobsProjection

# module -> class of projections defined beside these by other parts of adpipe.
OPTIONAL: dict[str, str] = {"adpipe.projections.webhooks": "WebhooksProjection"}


def _optional_classes() -> list[type[Projection]]:
    found = []
    for module, name in OPTIONAL.items():
        if importlib.util.find_spec(module) is not None:
            found.append(getattr(importlib.import_module(module), name))
    return found


CLASSES: tuple[type[Projection], ...] = (
    ClientsProjection,
    CampaignsProjection,
    AssetsProjection,
    JobsProjection,
    *_optional_classes(),
)
PROJECTION_NAMES: tuple[str, ...] = tuple(cls.name for cls in CLASSES)


def all_projections() -> list[Projection]:
    """Fresh instances of every projection (the projector owns them)."""
    return [cls() for cls in CLASSES]
