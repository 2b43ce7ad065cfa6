"""Read models: each projection's tables and the fold that keeps them current from the event log.

`ALL_PROJECTIONS()` answers fresh instances of every one; `PROJECTION_NAMES` are the names
`adpipe.projector.wait_for_projections` waits on for read-your-writes (`projections_showing` the
ones a write of some event types changes).
"""

from __future__ import annotations

from .registry import PROJECTION_NAMES, all_projections, projections_showing

ALL_PROJECTIONS = all_projections

__all__ = ["ALL_PROJECTIONS", "PROJECTION_NAMES", "all_projections", "projections_showing"]
