"""Content decides: files are validated and measured by decoding them, whatever they are called."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from adpipe.media import InvalidMedia, MediaLimits
from adpipe.media.formats import AssetMetadata
from adpipe.media.probe import probe
from adpipe.media.thumbnail import make_thumbnail

if TYPE_CHECKING:
    from testkit.samples import Samples

FRAME = 1 / 25  # "within a frame" for the 25 fps samples


def test_a_jpeg_is_measured(samples: Samples) -> None:
    meta = probe(str(samples.jpeg), "image")
    assert meta == AssetMetadata(
        format="jpeg",
        content_type="image/jpeg",
        size=samples.jpeg.stat().st_size,
        width=640,
        height=480,
    )


@pytest.mark.parametrize(
    ("name", "fmt", "content_type", "size"),
    [
        ("png", "png", "image/png", (800, 600)),
        ("gif", "gif", "image/gif", (120, 60)),
        ("webp", "webp", "image/webp", (300, 200)),
        ("rotated_jpeg", "jpeg", "image/jpeg", (480, 640)),  # EXIF orientation applied
    ],
)
def test_images_are_measured(
    samples: Samples, name: str, fmt: str, content_type: str, size: tuple[int, int]
) -> None:
    meta = probe(str(getattr(samples, name)), "image")
    assert (meta.format, meta.content_type, (meta.width, meta.height)) == (fmt, content_type, size)
    assert meta.duration is None and meta.has_audio is None


def test_an_mp4_with_audio_is_measured(samples: Samples) -> None:
    meta = probe(str(samples.mp4), "video")
    assert (meta.format, meta.content_type) == ("mp4", "video/mp4")
    assert (meta.width, meta.height) == (640, 360)
    assert meta.duration == pytest.approx(2.0, abs=FRAME)
    assert meta.fps == 25
    assert (meta.video_codec, meta.audio_codec, meta.has_audio) == ("h264", "aac", True)
    assert meta.size == samples.mp4.stat().st_size


def test_an_mp4_without_audio_says_so(samples: Samples) -> None:
    meta = probe(str(samples.mp4_silent), "video")
    assert (meta.width, meta.height, meta.fps) == (320, 240, 25)
    assert meta.duration == pytest.approx(2.0, abs=FRAME)
    assert (meta.video_codec, meta.audio_codec, meta.has_audio) == ("h264", None, False)


def test_a_rotated_video_reports_its_display_size(samples: Samples) -> None:
    meta = probe(str(samples.mp4_rotated), "video")
    assert (meta.width, meta.height) == (360, 640)


def test_a_mov_and_a_webm_are_told_apart_from_their_container_families(samples: Samples) -> None:
    mov = probe(str(samples.mov), "video")
    assert (mov.format, mov.content_type, mov.fps) == ("mov", "video/quicktime", 30)
    assert mov.duration == pytest.approx(1.0, abs=1 / 30)
    webm = probe(str(samples.webm), "video")
    assert (webm.format, webm.content_type) == ("webm", "video/webm")
    assert (webm.video_codec, webm.audio_codec, webm.has_audio) == ("vp9", "opus", True)
    assert webm.duration == pytest.approx(2.0, abs=FRAME)


@pytest.mark.parametrize(
    ("name", "fmt", "content_type", "codec"),
    [
        ("mp3", "mp3", "audio/mpeg", "mp3"),
        ("wav", "wav", "audio/wav", "pcm_s16le"),
        ("m4a", "m4a", "audio/mp4", "aac"),
    ],
)
def test_audio_files_are_measured(
    samples: Samples, name: str, fmt: str, content_type: str, codec: str
) -> None:
    meta = probe(str(getattr(samples, name)), "audio")
    assert (meta.format, meta.content_type, meta.audio_codec) == (fmt, content_type, codec)
    assert meta.duration == pytest.approx(1.0, abs=0.03)
    assert (meta.width, meta.height, meta.video_codec, meta.has_audio) == (None, None, None, True)


@pytest.mark.parametrize(
    ("name", "declared", "says"),
    [
        ("html", "image", "expected an image but the content is an HTML document"),
        ("json", "video", "expected a video but the content is a JSON document"),
        ("pdf", "image", "expected an image but the content is a PDF document"),
        ("png", "video", "expected a video but the content is a PNG image"),
        ("jpeg", "audio", "expected an audio file but the content is a JPEG image"),
        ("mp4", "image", "expected an image but the content is an MP4 video"),
        ("mp4", "audio", "expected an audio file but the content is an MP4 video"),
        ("mp3", "video", "expected a video but the content is an MP3 audio file"),
        ("m4a", "video", "expected a video but the content is an M4A audio file"),
        ("webm", "audio", "expected an audio file but the content is a WebM video"),
        ("bmp", "image", "a BMP image; supported are JPEG, PNG, WebP and GIF"),
    ],
)
def test_content_of_another_type_is_refused_saying_what_it_is(
    samples: Samples, name: str, declared: str, says: str
) -> None:
    with pytest.raises(InvalidMedia) as refused:
        probe(str(getattr(samples, name)), declared)  # type: ignore[arg-type]
    assert says in refused.value.detail
    assert refused.value.status_code == 422


def test_a_truncated_mp4_fails(samples: Samples) -> None:
    with pytest.raises(InvalidMedia, match="looks like an MP4 video but cannot be read"):
        probe(str(samples.mp4_cut), "video")


def test_a_truncated_faststart_mp4_fails_although_it_opens(samples: Samples) -> None:
    with pytest.raises(InvalidMedia, match=r"MP4 file is truncated: \d+ of 50 video frames"):
        probe(str(samples.mp4_faststart_cut), "video")


def test_a_truncated_webm_fails(samples: Samples, tmp_path: Path) -> None:
    data = samples.webm.read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidMedia, match="WebM file is truncated"):
        probe(str(cut), "video")


@pytest.mark.parametrize("name", ["jpeg", "png"])
def test_a_truncated_image_fails(samples: Samples, tmp_path: Path, name: str) -> None:
    data = getattr(samples, name).read_bytes()
    cut = tmp_path / f"cut.{name}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidMedia, match=r"corrupt|truncated"):
        probe(str(cut), "image")


def test_a_png_with_a_damaged_chunk_fails(samples: Samples, tmp_path: Path) -> None:
    data = bytearray(samples.png.read_bytes())
    data[60] ^= 0xFF  # inside the first IDAT chunk: its CRC no longer matches
    broken = tmp_path / "broken.png"
    broken.write_bytes(bytes(data))
    with pytest.raises(InvalidMedia, match="PNG image is corrupt"):
        probe(str(broken), "image")


def test_a_decompression_bomb_is_refused_from_its_header(samples: Samples) -> None:
    # 20000 x 20000 pixels in a few hundred bytes: refused before any pixel is decoded.
    assert samples.png_bomb.stat().st_size < 1000
    with pytest.raises(InvalidMedia, match="too large to decode safely"):
        probe(str(samples.png_bomb), "image")
    with pytest.raises(InvalidMedia, match="too large to decode safely"):
        make_thumbnail(str(samples.png_bomb), "image")


def test_the_pixel_cap_is_configurable(samples: Samples) -> None:
    with pytest.raises(InvalidMedia, match=r"640x480 pixels .* over the limit of 0.1 MP"):
        probe(str(samples.jpeg), "image", MediaLimits(max_image_pixels=100_000))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "the file is empty"),
        (b"\x00\x01\x02\x03garbage" * 50, "expected an image but the content is data of an"),
        (b"PK\x03\x04" + b"\x00" * 100, "a ZIP archive"),
        (b"\xef\xbb\xbf  <html><body>404</body></html>", "an HTML document"),
        (b"just some words\n", "a text file"),
    ],
)
def test_odd_bytes_declared_as_an_image_are_refused(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "odd"
    path.write_bytes(content)
    with pytest.raises(InvalidMedia, match=says):
        probe(str(path), "image")


def test_random_bytes_declared_as_a_video_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "noise"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InvalidMedia, match="expected a video"):
        probe(str(path), "video")


def test_a_matroska_video_is_refused_as_unsupported(samples: Samples, tmp_path: Path) -> None:
    # The same bytes as the WebM sample but with the DocType "matroska".
    data = samples.webm.read_bytes().replace(b"\x42\x82\x84webm", b"\x42\x82\x88matroska", 1)
    path = tmp_path / "a.mkv"
    path.write_bytes(data)
    with pytest.raises(InvalidMedia, match=r"Matroska \(MKV\) video, which is not supported"):
        probe(str(path), "video")


def _thumbnail(data: bytes | None) -> Image.Image:
    assert data is not None
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


def test_an_image_thumbnail_is_a_jpeg_480_wide_keeping_the_aspect_ratio(samples: Samples) -> None:
    assert _thumbnail(make_thumbnail(str(samples.jpeg), "image")).size == (480, 360)
    # RGBA flattened onto white; 800x600 -> 480x360.
    assert _thumbnail(make_thumbnail(str(samples.png), "image")).size == (480, 360)
    # Shown upright: the stored 640x480 is displayed 480x640, already 480 wide.
    assert _thumbnail(make_thumbnail(str(samples.rotated_jpeg), "image")).size == (480, 640)


def test_a_small_image_is_not_enlarged(samples: Samples) -> None:
    assert _thumbnail(make_thumbnail(str(samples.gif), "image")).size == (120, 60)


def test_a_video_thumbnail_is_a_poster_frame_from_a_tenth_in(samples: Samples) -> None:
    poster = _thumbnail(make_thumbnail(str(samples.mp4), "video"))
    assert poster.size == (480, 270)
    # Frame i of the sample is grey level 5*i; a tenth of 2 s is frame 5, level 25.
    level = poster.convert("L").getpixel((240, 135))
    assert isinstance(level, int) and abs(level - 25) <= 6


def test_a_rotated_video_thumbnail_is_upright(samples: Samples) -> None:
    poster = _thumbnail(make_thumbnail(str(samples.mp4_rotated), "video")).convert("L")
    assert poster.size == (360, 640)
    # The stored frame's white top half, turned a quarter counter-clockwise, is the left half.
    left, right = poster.getpixel((90, 320)), poster.getpixel((270, 320))
    assert isinstance(left, int) and isinstance(right, int)
    assert left > 200 and right < 50


def test_audio_has_no_thumbnail(samples: Samples) -> None:
    assert make_thumbnail(str(samples.mp3), "audio") is None


def test_the_file_name_plays_no_part(samples: Samples, tmp_path: Path) -> None:
    misnamed = tmp_path / "photo.jpg"
    shutil.copy(samples.png, misnamed)
    assert probe(str(misnamed), "image").format == "png"


def test_an_image_is_described_without_importing_pyav(samples: Samples) -> None:
    """A probe child starts afresh for every file, and most files are images: PyAV's import was
    a fifth of such a child's cost, for nothing."""
    script = (
        "import sys\n"
        "from adpipe.media.describe import describe\n"
        "from adpipe.media.limits import MediaLimits\n"
        f"described = describe({str(samples.jpeg)!r}, 'image', MediaLimits())\n"
        "assert described.thumbnail is not None\n"
        "print(sorted(m for m in sys.modules if m == 'av' or m.startswith('av.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
