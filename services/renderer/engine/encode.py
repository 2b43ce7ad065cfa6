"""The output file: H.264 + AAC in MP4 with `faststart`, and the x264 settings we chose.
`bench/render.py` builds its encode floor with `add_video_stream` too, so both run the same x264."""

from __future__ import annotations

from typing import TYPE_CHECKING

import av

if TYPE_CHECKING:
    from pathlib import Path

    from av.audio.stream import AudioStream
    from av.container import OutputContainer
    from av.video.stream import VideoStream

# The x264 choice, measured on the 2-core target with the benchmark's ad frames:
# - preset "veryfast": ~70 fps at 1080p, ~170 fps at 720p. "faster" is ~1.8x slower for a few
#   percent fewer bytes; "superfast" is ~1.4x faster but turns off macroblock-tree rate control,
#   the lookahead and most partition search: blockier gradients and text edges at the same CRF.
#   Users wait on this step, and veryfast is where the curve bends.
# - CRF 20: visually clean for graphics and captions; the bitrate follows the content.
# - 2 s GOP: players and the preview can seek without decoding long runs of frames.
# - Two frame threads, one per core: x264 then keeps both cores ~90% busy and our compositing
#   thread fills the gaps. Three (x264's default for two cores) spent ~5% more CPU for no
#   speed at 1080p; sliced threads lower latency, which we do not need, and cost compression.
VIDEO_PRESET = "veryfast"
VIDEO_CRF = "20"
KEYFRAME_SECONDS = 2
ENCODER_THREADS = 2

AUDIO_SAMPLE_RATE = 48_000
AUDIO_LAYOUT = "stereo"
AUDIO_BITRATE = 160_000


def open_output(path: Path) -> OutputContainer:
    # faststart moves the index to the front in a second pass at close, so browsers start playing
    # before the whole file has arrived.
    return av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})


def add_video_stream(container: OutputContainer, width: int, height: int, fps: int) -> VideoStream:
    stream = container.add_stream("libx264", rate=fps)
    stream.width = width
    stream.height = height
    stream.pix_fmt = "yuv420p"
    stream.options = {
        "preset": VIDEO_PRESET,
        "crf": VIDEO_CRF,
        "g": str(KEYFRAME_SECONDS * fps),
    }
    context = stream.codec_context
    context.thread_count = ENCODER_THREADS
    context.thread_type = "FRAME"
    # Tag what we produce (BT.709, limited range) so players do not guess.
    context.colorspace = 1  # AVCOL_SPC_BT709
    context.color_primaries = 1  # AVCOL_PRI_BT709
    context.color_trc = 1  # AVCOL_TRC_BT709
    context.color_range = 1  # AVCOL_RANGE_MPEG
    return stream


def add_audio_stream(container: OutputContainer) -> AudioStream:
    stream = container.add_stream("aac", rate=AUDIO_SAMPLE_RATE)
    stream.layout = AUDIO_LAYOUT
    stream.bit_rate = AUDIO_BITRATE
    return stream
