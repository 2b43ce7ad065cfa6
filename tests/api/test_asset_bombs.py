"""Decompression bombs uploaded to the API: refused with 422 within seconds, decoded (as far as
they get) in a bounded child process — the API answers /healthz throughout and its memory stays
where it was."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from testkit.samples import full_png_bomb_bytes, write_mov_bomb

from .bombs import ASSETS, upload_watched
from .conftest import Client

# A bomb decoded in the API would add hundreds of megabytes (708 MB for the MOV's frame, 1.6 GB
# for the PNG); what the API itself holds for an upload is a few.
API_GROWTH_BOUND_MB = 64


@pytest.fixture(scope="module")
def mov_bomb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_mov_bomb(tmp_path_factory.mktemp("bombs") / "bomb.mov").read_bytes()


async def test_a_png_declaring_20000x20000_pixels_is_refused_with_422(alice: Client) -> None:
    bomb = full_png_bomb_bytes(20000, 20000)
    assert len(bomb) < 2 * 2**20, "small on the wire, 1.6 GB decoded"
    answer, watch = await upload_watched(alice, bomb, "hero.png", "image/png")
    assert answer.status == 422, answer.body
    problem = answer.json()
    assert "20000x20000 pixels (400 MP), over the limit of 100 MP" in problem["detail"]
    assert problem["errors"][0]["field"] == "file"
    assert watch.peak_growth_mb < API_GROWTH_BOUND_MB
    assert (await alice.get(ASSETS)).json()["total"] == 0


async def test_a_mov_whose_frame_is_15360x15360_is_refused_with_422(
    alice: Client, mov_bomb: bytes
) -> None:
    answer, watch = await upload_watched(alice, mov_bomb, "clip.mov", "video/quicktime")
    assert answer.status == 422, answer.body
    assert "15360x15360 pixels (236 MP), over the limit of 36 MP" in answer.json()["detail"]
    assert watch.peak_growth_mb < API_GROWTH_BOUND_MB
    assert all(status == 200 for status, _ in watch.healthz)
    assert watch.healthz, "the API answered /healthz while the file was being decoded"
    assert (await alice.get(ASSETS)).json()["total"] == 0


def test_the_api_imports_no_service_package_and_no_decoder() -> None:
    """The API hands media to a child by name: importing it loads no adpipe.services module,
    and neither PyAV nor Pillow."""
    code = (
        "import sys, adpipe.api.app\n"
        "loaded = sorted(m for m in sys.modules if m == 'adpipe.services'"
        " or m.startswith('adpipe.services.') or m.split('.')[0] in ('av', 'PIL'))\n"
        "print('\\n'.join(loaded))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    ).stdout.split()
    assert found == []
