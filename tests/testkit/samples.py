"""Sample media for the media and downloader tests, generated once per session with Pillow and
PyAV — and decompression bombs, small files that declare enormous pictures.

Every file's true properties are known here, so metadata can be asserted exactly.
"""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import msgspec
import numpy as np
from PIL import Image


class Samples(msgspec.Struct, frozen=True, kw_only=True):
    folder: Path
    jpeg: Path  # 640x480
    png: Path  # 800x600 RGBA
    gif: Path  # 120x60, two frames
    webp: Path  # 300x200
    rotated_jpeg: Path  # stored 640x480, EXIF orientation 6: shown 480x640
    bmp: Path
    mp4: Path  # 640x360, 2 s at 25 fps, H.264 + AAC; frame i has grey level 5*i
    mp4_silent: Path  # 320x240, 2 s at 25 fps, H.264 only
    mp4_rotated: Path  # stored 640x360 top half white, display rotation 90 (counter-clockwise)
    mov: Path  # 320x240, 1 s at 30 fps
    webm: Path  # 320x240, 2 s at 25 fps, VP9 + Opus
    mp3: Path  # 1 s mono
    wav: Path  # 1 s mono 16-bit
    m4a: Path  # 1 s AAC, ipod muxer (brand "M4A ")
    mp4_cut: Path  # mp4 with its index at the end, cut in half: the index is gone
    mp4_faststart_cut: Path  # index first, cut in half: opens, but half the samples are missing
    png_bomb: Path  # a valid PNG header claiming 20000x20000 pixels, almost no data
    png_bomb_full: Path  # 20000x20000 RGBA, all of its (zero) pixels there: 1.6 GB decoded
    mov_bomb: Path  # a MOV whose single frame is a 15360x15360 RGB PNG: 708 MB decoded
    html: Path
    json: Path
    pdf: Path


def _grey_frame(width: int, height: int, level: int) -> av.VideoFrame:
    pixels = np.full((height, width, 3), level % 256, np.uint8)
    return av.VideoFrame.from_ndarray(pixels, format="rgb24")


def write_video(
    path: Path,
    *,
    width: int,
    height: int,
    seconds: float,
    fps: int,
    video_codec: str = "libx264",
    audio_codec: str | None = "aac",
    container_format: str | None = None,
    options: dict[str, str] | None = None,
    rotation: float | None = None,
    top_half_white: bool = False,
) -> None:
    with av.open(str(path), "w", format=container_format, options=options or {}) as out:
        video = out.add_stream(video_codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation is not None:
            video.set_display_rotation(rotation)
        audio = None
        if audio_codec is not None:
            audio = out.add_stream(audio_codec, rate=48000)
            audio.layout = "stereo"
        for i in range(round(seconds * fps)):
            if top_half_white:
                pixels = np.zeros((height, width, 3), np.uint8)
                pixels[: height // 2] = 255
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            else:
                frame = _grey_frame(width, height, 5 * i)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            _write_tone(out, audio, seconds, channels=2)


def _write_tone(
    out: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    seconds: float,
    *,
    channels: int,
) -> None:
    rate = stream.codec_context.sample_rate
    frame_size = stream.codec_context.frame_size or 1024
    layout = "stereo" if channels == 2 else "mono"
    total = round(seconds * rate)
    for start in range(0, total, frame_size):
        n = min(frame_size, total - start)
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(start, start + n) / rate)
        # PyAV converts planar float to whatever sample format the encoder wants.
        data = np.tile(tone.astype(np.float32), (channels, 1))
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def write_audio(path: Path, *, codec: str, container_format: str, rate: int) -> None:
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        _write_tone(out, stream, 1.0, channels=1)


def png_bomb_bytes(width: int, height: int) -> bytes:
    """A 1-bit greyscale PNG header for width x height with one row of data: tiny on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row))
        + chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def zeros_deflated(rows: int, row_size: int) -> bytes:
    """A zlib stream of rows * row_size zero bytes, made without compressing them all.

    A full flush ends a deflate block on a byte boundary with no back-references, so the block
    for a group of rows can be repeated verbatim; the final empty block and the Adler-32 of all
    zeros (a = 1, b = length mod 65521) close the stream. Milliseconds instead of seconds.
    """
    group = next(n for n in (16, 8, 4, 2, 1) if rows % n == 0)
    comp = zlib.compressobj(9)
    first = comp.compress(bytes(group * row_size)) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(bytes(group * row_size)) + comp.flush(zlib.Z_FULL_FLUSH)
    header, piece = first[:2], first[2:]
    assert again == piece, "a full flush makes every group's block the same"
    adler = ((rows * row_size) % 65521) << 16 | 1
    return header + piece * (rows // group) + b"\x03\x00" + struct.pack(">I", adler)


def full_png_bomb_bytes(width: int, height: int, *, channels: int = 4) -> bytes:
    """An 8-bit PNG (grey, RGB or RGBA) of width x height zero pixels, every row present."""
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    data = zeros_deflated(height, 1 + width * channels)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def write_mov_bomb(path: Path, side: int = 15360) -> Path:
    """A QuickTime file holding one PNG-coded frame of side x side RGB pixels.

    The frame is muxed as it is (no encoder runs), so the MOV's track header and sample
    description state the true size, as a camera's would, and the file stays under a megabyte.
    """
    frame = full_png_bomb_bytes(side, side, channels=3)
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("png", rate=1)
        stream.width = stream.height = side
        stream.pix_fmt = "rgb24"
        packet = av.Packet(frame)
        packet.stream = stream
        packet.pts = packet.dts = 0
        packet.duration = 1
        packet.time_base = Fraction(1, 1)
        packet.is_keyframe = True
        out.mux(packet)
    return path


def _gradient(width: int, height: int, mode: str = "RGB") -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    red = np.tile(x, (height, 1))
    green = np.tile(y[:, None], (1, width))
    blue = np.full((height, width), 128, np.uint8)
    channels = [red, green, blue]
    if mode == "RGBA":
        channels.append(np.full((height, width), 200, np.uint8))
    return Image.fromarray(np.dstack(channels), mode)


def make_samples(folder: Path) -> Samples:
    paths = {name: folder / name for name in ("a.jpg", "a.png", "a.gif", "a.webp", "rot.jpg")}
    _gradient(640, 480).save(paths["a.jpg"], quality=90)
    _gradient(800, 600, "RGBA").save(paths["a.png"])
    frames = [Image.new("P", (120, 60), i) for i in (10, 200)]
    frames[0].save(paths["a.gif"], save_all=True, append_images=frames[1:], duration=100)
    _gradient(300, 200).save(paths["a.webp"], quality=80)
    exif = Image.Exif()
    exif[0x0112] = 6
    _gradient(640, 480).save(paths["rot.jpg"], exif=exif.tobytes())
    bmp = folder / "a.bmp"
    _gradient(32, 16).save(bmp)

    mp4 = folder / "a.mp4"
    write_video(mp4, width=640, height=360, seconds=2, fps=25)
    silent = folder / "silent.mp4"
    write_video(silent, width=320, height=240, seconds=2, fps=25, audio_codec=None)
    rotated = folder / "rotated.mp4"
    write_video(
        rotated,
        width=640,
        height=360,
        seconds=1,
        fps=25,
        audio_codec=None,
        rotation=90,
        top_half_white=True,
    )
    mov = folder / "a.mov"
    write_video(mov, width=320, height=240, seconds=1, fps=30, container_format="mov")
    webm = folder / "a.webm"
    write_video(
        webm,
        width=320,
        height=240,
        seconds=2,
        fps=25,
        video_codec="libvpx-vp9",
        audio_codec="libopus",
        container_format="webm",
    )
    mp3, wav, m4a = folder / "a.mp3", folder / "a.wav", folder / "a.m4a"
    write_audio(mp3, codec="libmp3lame", container_format="mp3", rate=44100)
    write_audio(wav, codec="pcm_s16le", container_format="wav", rate=44100)
    write_audio(m4a, codec="aac", container_format="ipod", rate=44100)

    cut = folder / "cut.mp4"
    data = mp4.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    faststart = folder / "faststart.mp4"
    write_video(
        faststart, width=320, height=240, seconds=2, fps=25, options={"movflags": "faststart"}
    )
    faststart_cut = folder / "faststart-cut.mp4"
    data = faststart.read_bytes()
    faststart_cut.write_bytes(data[: len(data) // 2])

    bomb = folder / "bomb.png"
    bomb.write_bytes(png_bomb_bytes(20000, 20000))
    bomb_full = folder / "bomb-full.png"
    bomb_full.write_bytes(full_png_bomb_bytes(20000, 20000))
    mov_bomb = write_mov_bomb(folder / "bomb.mov")
    html = folder / "error.html"
    html.write_text("<!DOCTYPE html>\n<html><head><title>Not here</title></head><body/></html>")
    json_file = folder / "error.json"
    json_file.write_text('{"error": "not found", "status": 404}')
    pdf = folder / "doc.pdf"
    pdf.write_bytes(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
    return Samples(
        folder=folder,
        jpeg=paths["a.jpg"],
        png=paths["a.png"],
        gif=paths["a.gif"],
        webp=paths["a.webp"],
        rotated_jpeg=paths["rot.jpg"],
        bmp=bmp,
        mp4=mp4,
        mp4_silent=silent,
        mp4_rotated=rotated,
        mov=mov,
        webm=webm,
        mp3=mp3,
        wav=wav,
        m4a=m4a,
        mp4_cut=cut,
        mp4_faststart_cut=faststart_cut,
        png_bomb=bomb,
        png_bomb_full=bomb_full,
        mov_bomb=mov_bomb,
        html=html,
        json=json_file,
        pdf=pdf,
    )
