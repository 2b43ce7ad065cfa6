"""Validate and measure a video or audio file with PyAV.

The container must be a supported format with a stream of the declared kind; every packet is
demuxed (cheap, no decoding) to prove the data is all there, and the first frames are decoded
to prove the codec data is sound. Frame size, frame count and duration are held to `MediaLimits`:
as declared before anything is decoded, and as found while demuxing and decoding.
"""

from __future__ import annotations

from typing import Literal

import av
import av.container
import av.stream
from av.audio.stream import AudioStream
from av.video.stream import VideoStream
from PIL import Image

from adpipe.media.errors import InvalidMedia
from adpipe.media.formats import CONTENT_TYPES, AssetMetadata
from adpipe.media.limits import MediaLimits
from adpipe.media.sniff import (
    MEDIA_KINDS,
    Sniffed,
    ebml_doctype,
    major_brand,
    sniff,
)

VIDEO_FORMATS = ("mp4", "mov", "webm")
AUDIO_FORMATS = ("mp3", "wav", "m4a")
_NAMES = {"mp4": "MP4", "mov": "MOV", "webm": "WebM", "mp3": "MP3", "wav": "WAV", "m4a": "M4A"}
_DESCRIPTIONS = {
    "mp4": "an MP4 video",
    "mov": "a QuickTime (MOV) video",
    "webm": "a WebM video",
    "mp3": "an MP3 audio file",
    "wav": "a WAV audio file",
    "m4a": "an M4A audio file",
}
# Decoding this many frames per stream catches broken codec data without decoding a whole film.
_FRAMES_TO_DECODE = 3
_PACKETS_TO_DECODE = 64


def probe_media(
    path: str,
    size: int,
    head: bytes,
    declared_type: Literal["video", "audio"],
    limits: MediaLimits,
) -> AssetMetadata:
    expected = "a video" if declared_type == "video" else "an audio file"
    sniffed = sniff(head)
    # FFmpeg happily opens a PNG or a text file as a "video": stop anything that is plainly
    # something else before it gets there.
    if sniffed.kind not in MEDIA_KINDS and sniffed.kind != "unknown":
        raise InvalidMedia(f"expected {expected} but the content is {sniffed.description}")
    try:
        # Opening reads the headers and may decode a first frame to learn its format: with a
        # hostile file that is already the costly part, bounded by the sandbox it runs in.
        container = av.open(path, metadata_errors="ignore")
    except MemoryError:
        raise  # FFmpeg's ENOMEM: the sandbox reports it as over the memory limit
    except av.FFmpegError as exc:
        if sniffed.kind == "unknown":
            raise InvalidMedia(
                f"expected {expected} but the content cannot be read: {exc}"
            ) from exc
        raise InvalidMedia(
            f"the content looks like {sniffed.description} but cannot be read (corrupt or"
            f" truncated): {exc}"
        ) from exc
    with container:
        video = _main_video_stream(container)
        audio = container.streams.audio[0] if container.streams.audio else None
        fmt = _format_of(container, head, sniffed, video is not None, expected)
        if declared_type == "video" and (fmt not in VIDEO_FORMATS or video is None):
            raise InvalidMedia(f"expected a video but the content is {_DESCRIPTIONS[fmt]}")
        if declared_type == "audio" and fmt not in AUDIO_FORMATS:
            raise InvalidMedia(f"expected an audio file but the content is {_DESCRIPTIONS[fmt]}")
        if declared_type == "audio" and audio is None:
            raise InvalidMedia(f"the {_NAMES[fmt]} file has no audio stream")
        main = video if declared_type == "video" else audio
        assert main is not None
        check_declared(container, video, limits)
        scan = _Scan(container, [s for s in (video, audio) if s is not None], fmt, limits)
        scan.check_complete()
        width = height = None
        if video is not None:
            width, height = video.codec_context.width, video.codec_context.height
            if abs(scan.rotation) % 180 == 90:
                width, height = height, width
        rate = (video.average_rate or video.guessed_rate) if video is not None else None
        return AssetMetadata(
            format=fmt,
            content_type=CONTENT_TYPES[fmt],
            size=size,
            width=width,
            height=height,
            duration=scan.duration_of(main),
            fps=round(float(rate), 3) if rate else None,
            video_codec=_codec_name(video),
            audio_codec=_codec_name(audio),
            has_audio=audio is not None,
        )


def check_declared(
    container: av.container.InputContainer, video: VideoStream | None, limits: MediaLimits
) -> None:
    """Refuses what the headers declare past the limits, before a single frame is decoded."""
    if video is not None:
        check_frame_size(video.codec_context.width, video.codec_context.height, limits)
        if video.frames and video.frames > limits.max_frames:
            raise InvalidMedia(
                f"the video has {video.frames} frames, over the limit of {limits.max_frames}"
            )
    if container.duration and container.duration / av.time_base > limits.max_duration_seconds:
        _too_long(container.duration / av.time_base, limits)


def check_frame_size(width: int, height: int, limits: MediaLimits) -> None:
    if width * height > limits.max_frame_pixels:
        raise InvalidMedia(
            f"the video's frames are {width}x{height} pixels ({width * height / 1e6:.0f} MP),"
            f" over the limit of {limits.max_frame_pixels / 1e6:g} MP"
        )


def _too_long(seconds: float, limits: MediaLimits) -> None:
    raise InvalidMedia(
        f"the file lasts {seconds:.0f} s or more, over the limit of"
        f" {limits.max_duration_seconds:g} s"
    )


def _codec_name(stream: VideoStream | AudioStream | None) -> str | None:
    # The codec's own name ("mp3"), not the decoder FFmpeg happened to pick ("mp3float").
    return None if stream is None else stream.codec_context.codec.canonical_name


def _main_video_stream(container: av.container.InputContainer) -> VideoStream | None:
    for stream in container.streams.video:
        # Cover art in an audio file shows up as a one-frame "video" stream.
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _format_of(
    container: av.container.InputContainer,
    head: bytes,
    sniffed: Sniffed,
    has_video: bool,
    expected: str,
) -> str:
    # FFmpeg names demuxers by family ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"); the
    # file's own header tells the members apart.
    names = set(container.format.name.split(","))
    if "mov" in names:
        if major_brand(head) == b"qt  ":
            return "mov"
        return "mp4" if has_video else "m4a"
    if "matroska" in names:
        if ebml_doctype(head) == "webm":
            return "webm"
        return _unsupported(expected, "a Matroska (MKV) video")
    if names == {"mp3"}:
        return "mp3"
    if names == {"wav"}:
        return "wav"
    described = sniffed.description if sniffed.kind != "unknown" else container.format.long_name
    return _unsupported(expected, described)


def _unsupported(expected: str, described: str) -> str:
    raise InvalidMedia(
        f"expected {expected} but the content is {described}, which is not supported"
        " (videos: MP4, MOV, WebM; audio: MP3, WAV, M4A)"
    )


class _Scan:
    """One pass over every packet: counts, time span per stream, first frames decoded."""

    def __init__(
        self,
        container: av.container.InputContainer,
        streams: list[VideoStream | AudioStream],
        fmt: str,
        limits: MediaLimits,
    ) -> None:
        self._container = container
        self._streams = streams
        self._fmt = fmt
        self._limits = limits
        self.packets = {s.index: 0 for s in streams}
        self.start: dict[int, float] = {}
        self.end: dict[int, float] = {}
        self.decoded = {s.index: 0 for s in streams}
        self.rotation = 0
        try:
            self._run()
        except MemoryError:
            raise
        except av.FFmpegError as exc:
            raise InvalidMedia(f"the {_NAMES[fmt]} file is corrupt: {exc}") from exc

    def _run(self) -> None:
        fed = dict.fromkeys(self.packets, 0)
        for packet in self._container.demux(self._streams):
            if packet.size == 0:  # the end-of-stream marker PyAV yields per stream
                continue
            index = packet.stream.index
            self.packets[index] += 1
            if packet.stream.type == "video" and self.packets[index] > self._limits.max_frames:
                raise InvalidMedia(
                    f"the video has more than {self._limits.max_frames} frames, the limit"
                )
            if packet.pts is not None and packet.time_base is not None:
                begin = float(packet.pts * packet.time_base)
                finish = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                self.start[index] = min(self.start.get(index, begin), begin)
                self.end[index] = max(self.end.get(index, finish), finish)
                if self.end[index] - self.start[index] > self._limits.max_duration_seconds:
                    _too_long(self.end[index] - self.start[index], self._limits)
            if self.decoded[index] < _FRAMES_TO_DECODE and fed[index] < _PACKETS_TO_DECODE:
                fed[index] += 1
                for frame in packet.decode():
                    self._saw_frame(index, frame)
        for stream in self._streams:
            if self.decoded[stream.index] == 0 and fed[stream.index] > 0:
                # Decoders with a delay (B-frames) hold frames back until flushed.
                for frame in stream.codec_context.decode(None):
                    self._saw_frame(stream.index, frame)

    def _saw_frame(self, index: int, frame: object) -> None:
        if isinstance(frame, av.VideoFrame):
            # The headers may understate what the codec data holds (a PNG frame inside a MOV
            # says its own size): judge the frame that came out too.
            check_frame_size(frame.width, frame.height, self._limits)
            if self.decoded[index] == 0:
                self.rotation = int(frame.rotation or 0)
        self.decoded[index] += 1

    def check_complete(self) -> None:
        for stream in self._streams:
            kind = stream.type
            packets = self.packets[stream.index]
            if packets == 0 or self.decoded[stream.index] == 0:
                raise InvalidMedia(
                    f"the {_NAMES[self._fmt]} file's {kind} stream holds no decodable data"
                    " (corrupt or truncated)"
                )
            # MP4/MOV index every sample up front: fewer packets than indexed means the data
            # was cut off (a faststart file truncated after its index still opens).
            if stream.frames and packets < stream.frames:
                raise InvalidMedia(
                    f"the {_NAMES[self._fmt]} file is truncated: {packets} of {stream.frames}"
                    f" {kind} frames are present"
                )
        if self._fmt in VIDEO_FORMATS and self._container.duration and self.end:
            declared = self._container.duration / av.time_base
            held = max(self.end.values()) - min(self.start.values())
            # WebM has no sample index, but its header states the duration.
            if held < declared - max(1.0, 0.05 * declared):
                raise InvalidMedia(
                    f"the {_NAMES[self._fmt]} file is truncated: it declares {declared:.1f} s"
                    f" but holds only {held:.1f} s"
                )

    def duration_of(self, stream: av.stream.Stream) -> float | None:
        # The stream's own duration accounts for encoder delay and padding (MP3, AAC); WebM
        # has none per stream, and there the packets' span is exact.
        if stream.duration and stream.time_base:
            return round(float(stream.duration * stream.time_base), 3)
        if stream.index in self.end:
            return round(self.end[stream.index] - self.start[stream.index], 3)
        if self._container.duration:
            return round(self._container.duration / av.time_base, 3)
        return None


def poster_frame(path: str, limits: MediaLimits, *, at_most: float) -> Image.Image:
    """The video's frame at a tenth of its length, or at `at_most` seconds if sooner (upright)."""
    try:
        with av.open(path, metadata_errors="ignore") as container:
            stream = next(
                s
                for s in container.streams.video
                if not s.disposition & av.stream.Disposition.attached_pic
            )
            check_frame_size(stream.codec_context.width, stream.codec_context.height, limits)
            duration = container.duration / av.time_base if container.duration else 0.0
            at = min(at_most, duration * 0.1)
            if at > 0 and stream.time_base:
                # Seeks to the keyframe at or before `at`; decoding forward reaches it.
                container.seek(int(at / stream.time_base), stream=stream)
            chosen: av.VideoFrame | None = None
            for frame in container.decode(stream):
                check_frame_size(frame.width, frame.height, limits)
                chosen = frame
                if frame.time is None or frame.time >= at - 1e-3:
                    break
            if chosen is None:
                raise InvalidMedia("the video has no decodable frame")
            picture: Image.Image = chosen.to_image()  # type: ignore[no-untyped-call]
            rotation = int(chosen.rotation or 0)
    except MemoryError:
        raise
    except (av.FFmpegError, StopIteration) as exc:
        raise InvalidMedia(f"no poster frame can be taken from the video: {exc}") from exc
    if rotation % 360:
        # Display matrices turn counter-clockwise, as Pillow's rotate does.
        picture = picture.rotate(rotation, expand=True)
    return picture
