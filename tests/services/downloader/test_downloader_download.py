"""download_asset end to end over local HTTP: fetched, validated by content, measured, previewed."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiohttp import web
from PIL import Image

from adpipe.media import MediaInspector
from adpipe.services.downloader.engine import (
    DownloadedAsset,
    DownloadLimits,
    InvalidContent,
    UrlGuard,
    download_asset,
    make_session,
)
from adpipe.settings import load_settings
from testkit.loopback import serve_app

if TYPE_CHECKING:
    from testkit.samples import Samples

LIMITS = DownloadLimits(retries=0, retry_base_delay=0.01, connect_timeout=2, read_timeout=2)
GUARD = UrlGuard(allow_private=True)
INSPECTOR = MediaInspector.from_settings(load_settings({}))


@pytest.fixture(scope="module")
async def base_url(samples: Samples) -> AsyncIterator[str]:
    # What each path serves and the Content-Type it claims (often wrongly, on purpose).
    table = {
        "/photo.jpg": (samples.jpeg, "image/jpeg"),
        "/photo-really-png.jpg": (samples.png, "image/jpeg"),
        "/clip.mp4": (samples.mp4, "video/mp4"),
        "/silent.mp4": (samples.mp4_silent, "application/octet-stream"),
        "/song.mp3": (samples.mp3, "audio/mpeg"),
        "/error-page.jpg": (samples.html, "image/jpeg"),
        "/cut.mp4": (samples.mp4_cut, "video/mp4"),
        "/faststart-cut.mp4": (samples.mp4_faststart_cut, "video/mp4"),
        "/bomb.png": (samples.png_bomb, "image/png"),
        "/bomb-full.png": (samples.png_bomb_full, "image/png"),
        "/bomb.mov": (samples.mov_bomb, "video/quicktime"),
    }

    async def serve(request: web.Request) -> web.Response:
        path, content_type = table[request.path]
        return web.Response(body=path.read_bytes(), content_type=content_type)

    app = web.Application()
    for path in table:
        app.router.add_get(path, serve)
    async with serve_app(app, shutdown_timeout=0.5) as base:
        yield base


async def download(url: str, declared: str, dest_dir: Path) -> DownloadedAsset:
    async with make_session(GUARD, LIMITS) as session:
        return await download_asset(
            session,
            url,
            declared,  # type: ignore[arg-type]
            dest_dir,
            LIMITS,
            GUARD,
            INSPECTOR,
        )


async def test_an_image_arrives_measured_with_a_thumbnail(
    base_url: str, samples: Samples, dest_dir: Path
) -> None:
    asset = await download(f"{base_url}/photo.jpg", "image", dest_dir)
    body = samples.jpeg.read_bytes()
    assert asset.file.sha256 == hashlib.sha256(body).hexdigest()
    assert Path(asset.file.path).read_bytes() == body
    assert (asset.metadata.format, asset.metadata.width, asset.metadata.height) == (
        "jpeg",
        640,
        480,
    )
    assert asset.thumbnail is not None
    assert Image.open(io.BytesIO(asset.thumbnail)).size == (480, 360)


async def test_a_png_served_as_jpeg_is_a_png(base_url: str, dest_dir: Path) -> None:
    asset = await download(f"{base_url}/photo-really-png.jpg", "image", dest_dir)
    assert asset.file.content_type_header == "image/jpeg"
    assert (asset.metadata.format, asset.metadata.content_type) == ("png", "image/png")
    assert (asset.metadata.width, asset.metadata.height) == (800, 600)


@pytest.mark.parametrize(("path", "has_audio"), [("/clip.mp4", True), ("/silent.mp4", False)])
async def test_a_video_arrives_measured_with_a_poster(
    base_url: str, dest_dir: Path, path: str, has_audio: bool
) -> None:
    asset = await download(f"{base_url}{path}", "video", dest_dir)
    meta = asset.metadata
    assert (meta.format, meta.content_type, meta.fps, meta.has_audio) == (
        "mp4",
        "video/mp4",
        25,
        has_audio,
    )
    assert meta.duration == pytest.approx(2.0, abs=1 / 25)
    assert asset.thumbnail is not None
    poster = Image.open(io.BytesIO(asset.thumbnail))
    assert poster.format == "JPEG" and poster.width <= 480
    assert poster.width / poster.height == pytest.approx(meta.width / meta.height, rel=0.01)  # type: ignore[operator]


async def test_audio_arrives_without_a_thumbnail(base_url: str, dest_dir: Path) -> None:
    asset = await download(f"{base_url}/song.mp3", "audio", dest_dir)
    assert (asset.metadata.format, asset.thumbnail) == ("mp3", None)


@pytest.mark.parametrize(
    ("path", "declared", "says"),
    [
        ("/error-page.jpg", "image", "expected an image but the content is an HTML document"),
        ("/cut.mp4", "video", "cannot be read"),
        ("/faststart-cut.mp4", "video", "truncated"),
        ("/bomb.png", "image", "20000x20000 pixels (400 MP), over the limit of 100 MP"),
        ("/bomb-full.png", "image", "20000x20000 pixels (400 MP), over the limit of 100 MP"),
        ("/bomb.mov", "video", "15360x15360 pixels (236 MP), over the limit of 36 MP"),
        ("/photo.jpg", "video", "expected a video but the content is a JPEG image"),
    ],
)
async def test_invalid_content_fails_and_leaves_nothing_behind(
    base_url: str, dest_dir: Path, path: str, declared: str, says: str
) -> None:
    with pytest.raises(InvalidContent) as refused:
        await download(f"{base_url}{path}", declared, dest_dir)
    assert says in refused.value.detail
    assert refused.value.url == f"{base_url}{path}"
    assert (refused.value.code, refused.value.transient) == ("invalid_content", False)
    assert list(dest_dir.iterdir()) == []
