"""The rendering engine: an approved storyboard and local asset files in, an H.264/AAC MP4 out.

It knows nothing of NATS or Postgres; the renderer service runs `render` in a worker thread.
"""

from __future__ import annotations

from .pipeline import render
from .spec import (
    RenderAsset,
    RenderCancelled,
    RenderFailed,
    RenderNarration,
    RenderResult,
    RenderSpec,
    frame_size,
)
from .transitions import Transition, parse_transition

__all__ = [
    "RenderAsset",
    "RenderCancelled",
    "RenderFailed",
    "RenderNarration",
    "RenderResult",
    "RenderSpec",
    "Transition",
    "frame_size",
    "parse_transition",
    "render",
]
