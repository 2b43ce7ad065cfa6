"""What decoding one user file may cost: pixels, frames and duration it may declare, and the
memory, CPU and time of the child process that decodes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from adpipe.settings import Settings


class MediaLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Checked against what a file declares before it is decoded, and again on what decodes.

    The defaults mirror `Settings` (where each has its reason); `from_settings` is the usual way.
    """

    max_image_pixels: int = 100_000_000
    max_frame_pixels: int = 36_000_000
    max_frames: int = 216_000
    max_duration_seconds: float = 1800.0

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        return cls(
            max_image_pixels=settings.media_max_image_pixels,
            max_frame_pixels=settings.media_max_frame_pixels,
            max_frames=settings.media_max_frames,
            max_duration_seconds=settings.media_max_duration_seconds,
        )
