"""The one way the API and the downloader look at user media: in a bounded child process.

A crafted file can crash a native decoder or ask it for gigabytes; either ends the child, and
the caller gets InvalidMedia saying which limit the file broke.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from adpipe.events.asset import AssetType
from adpipe.media.errors import DecoderCrashed, InvalidMedia
from adpipe.media.limits import MediaLimits
from adpipe.sandbox import (
    ChildCrashed,
    ChildLimits,
    ChildOutOfMemory,
    ChildOutOfTime,
    ChildRaised,
    FunctionRef,
    Sandbox,
)

if TYPE_CHECKING:
    from adpipe.media.formats import Described
    from adpipe.settings import Settings

# By name: this module must not import the decoders it hands work to.
DESCRIBE = FunctionRef("adpipe.media.describe", "describe")


class MediaInspector:
    """Probes and previews files in sandboxed children, at most `concurrency` at once."""

    def __init__(
        self,
        limits: MediaLimits,
        child: ChildLimits,
        *,
        concurrency: int,
        work: FunctionRef = DESCRIBE,
    ) -> None:
        """`work` is what the child runs, `describe(path, asset_type, limits)` unless a test
        needs a decoder that misbehaves on cue."""
        self.limits = limits
        self.child = child
        self._work = work
        self._sandbox = Sandbox(child, name="decoding the file", concurrency=concurrency)

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaInspector:
        child = ChildLimits(
            memory_bytes=settings.media_memory_bytes,
            cpu_seconds=settings.media_cpu_seconds,
            wall_seconds=settings.media_wall_seconds,
        )
        return cls(
            MediaLimits.from_settings(settings), child, concurrency=settings.media_concurrency
        )

    async def describe(self, path: str, asset_type: AssetType) -> Described:
        """Metadata and preview of the file at `path`, or InvalidMedia (DecoderCrashed when the
        decoder died on it); any other SandboxError is a fault of ours, not of the file."""
        try:
            return cast(
                "Described", await self._sandbox.run(self._work, path, asset_type, self.limits)
            )
        except ChildRaised as exc:
            if isinstance(exc.original, InvalidMedia):
                raise exc.original from None
            raise
        except (ChildOutOfMemory, ChildOutOfTime) as exc:
            raise InvalidMedia(exc.detail) from exc
        except ChildCrashed as exc:
            raise DecoderCrashed(exc.detail, signal=exc.signal) from exc
