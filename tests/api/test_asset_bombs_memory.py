"""With the pixel limits lifted, a bomb is stopped by the child's memory limit: the upload is
refused with 422 saying so, and the API process never held the pixels."""

from __future__ import annotations

from typing import Any

import pytest

from testkit.samples import full_png_bomb_bytes, write_mov_bomb

from .bombs import upload_watched
from .conftest import Client

API_GROWTH_BOUND_MB = 64


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "media_max_image_pixels": 10**10,
        "media_max_frame_pixels": 10**10,
        "media_memory_bytes": 512 * 2**20,
    }


@pytest.mark.parametrize("kind", ["png", "mov"])
async def test_a_bomb_past_the_pixel_limits_ends_its_child_at_the_memory_limit(
    alice: Client, kind: str, tmp_path: Any
) -> None:
    if kind == "png":
        data, name, content_type = full_png_bomb_bytes(20000, 20000), "hero.png", "image/png"
    else:
        data = write_mov_bomb(tmp_path / "bomb.mov").read_bytes()
        name, content_type = "clip.mov", "video/quicktime"
    answer, watch = await upload_watched(alice, data, name, content_type)
    assert answer.status == 422, answer.body
    assert (
        "decoding the file needed more memory than its limit of 512 MiB" in answer.json()["detail"]
    )
    assert watch.peak_growth_mb < API_GROWTH_BOUND_MB, "the child decoded, not the API"
    assert all(status == 200 for status, _ in watch.healthz)
