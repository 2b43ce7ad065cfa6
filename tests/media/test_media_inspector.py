"""The media inspector: files are judged in a bounded child; bombs, crashes and slow files end
there with a reason, never in the caller's process."""

from __future__ import annotations

import io
import signal
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from adpipe.media import DecoderCrashed, InvalidMedia, MediaInspector, MediaLimits
from adpipe.sandbox import ChildLimits, FunctionRef
from adpipe.settings import load_settings

if TYPE_CHECKING:
    from testkit.samples import Samples

MB = 2**20
DEFAULTS = MediaInspector.from_settings(load_settings({}))
# Pixel limits out of the way, so only the memory limit stands between a bomb and the machine.
NO_PIXEL_LIMITS = MediaLimits(max_image_pixels=10**10, max_frame_pixels=10**10)
SMALL_MEMORY = ChildLimits(memory_bytes=512 * MB, cpu_seconds=60, wall_seconds=120)


async def test_a_valid_file_is_described_with_a_preview(samples: Samples) -> None:
    described = await DEFAULTS.describe(str(samples.mp4), "video")
    assert (described.metadata.format, described.metadata.width) == ("mp4", 640)
    assert described.thumbnail is not None
    assert Image.open(io.BytesIO(described.thumbnail)).format == "JPEG"
    assert described.thumbnail_problem is None


async def test_an_invalid_file_is_refused_with_the_probes_reason(samples: Samples) -> None:
    with pytest.raises(InvalidMedia, match="expected a video but the content is a JPEG image"):
        await DEFAULTS.describe(str(samples.jpeg), "video")


async def test_a_png_declaring_20000x20000_is_refused_before_decoding(samples: Samples) -> None:
    with pytest.raises(InvalidMedia) as refused:
        await DEFAULTS.describe(str(samples.png_bomb_full), "image")
    assert "20000x20000 pixels (400 MP), over the limit of 100 MP" in refused.value.detail


async def test_a_mov_with_a_15360x15360_frame_is_refused(samples: Samples) -> None:
    with pytest.raises(InvalidMedia) as refused:
        await DEFAULTS.describe(str(samples.mov_bomb), "video")
    assert "15360x15360 pixels (236 MP), over the limit of 36 MP" in refused.value.detail


@pytest.mark.parametrize(
    ("name", "asset_type"), [("png_bomb_full", "image"), ("mov_bomb", "video")]
)
async def test_past_the_pixel_limits_a_bomb_stops_at_the_memory_limit(
    samples: Samples, name: str, asset_type: str
) -> None:
    inspector = MediaInspector(NO_PIXEL_LIMITS, SMALL_MEMORY, concurrency=1)
    with pytest.raises(InvalidMedia) as refused:
        await inspector.describe(str(getattr(samples, name)), asset_type)  # type: ignore[arg-type]
    assert "decoding the file needed more memory than its limit of 512 MiB" in refused.value.detail


async def test_frame_count_and_duration_limits_refuse_long_media(samples: Samples) -> None:
    few_frames = MediaInspector(MediaLimits(max_frames=10), ChildLimits(), concurrency=1)
    with pytest.raises(InvalidMedia, match="50 frames, over the limit of 10"):
        await few_frames.describe(str(samples.mp4), "video")
    short = MediaInspector(MediaLimits(max_duration_seconds=1), ChildLimits(), concurrency=1)
    with pytest.raises(InvalidMedia, match=r"lasts 2 s or more, over the limit of 1 s"):
        await short.describe(str(samples.mp4), "video")
    with pytest.raises(InvalidMedia, match=r"over the limit of 1 s"):
        await short.describe(str(samples.webm), "video")


async def test_a_decoder_that_takes_too_long_is_stopped(samples: Samples) -> None:
    hasty = MediaInspector(MediaLimits(), ChildLimits(wall_seconds=0.01), concurrency=1)
    with pytest.raises(InvalidMedia, match=r"decoding the file ran out of its time of 0\.01 s"):
        await hasty.describe(str(samples.mp4), "video")


async def test_a_decoder_crash_is_reported_as_such(samples: Samples) -> None:
    crashing = MediaInspector(
        MediaLimits(),
        ChildLimits(),
        concurrency=1,
        work=FunctionRef("testkit.sandbox_targets", "segfault_decoding"),
    )
    with pytest.raises(DecoderCrashed) as crashed:
        await crashing.describe(str(samples.mp4), "video")
    assert crashed.value.signal == signal.SIGSEGV
    assert crashed.value.detail == "decoding the file was killed by SIGSEGV"
