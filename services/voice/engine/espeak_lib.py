"""espeak-ng's C API through ctypes, as shipped by the `espeakng-loader` wheel (the library and
its voice data, no system package), and the worker process that serves it.

`serve` (run by `python -m adpipe.services.voice.engine.espeak_worker`) reads requests from
stdin and writes answers to stdout, each a 4-byte big-endian length and a msgpack body.
espeak-ng keeps one global synthesizer, so one process speaks one script at a time.
"""

from __future__ import annotations

import ctypes
import struct
from typing import IO, Any

import msgspec

# espeak_AUDIO_OUTPUT: hand samples to the callback, return when the text is spoken.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_espeakINITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit()
_POS_CHARACTER = 1
_espeakCHARS_UTF8 = 1
_espeakRATE = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EE_OK = 0
# espeak-ng's rate limits in words per minute; outside them it clamps silently.
RATE_MIN, RATE_MAX = 80, 450
NORMAL_RATE = 175  # espeak-ng's default: what speed 1.0 means


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds into the audio
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class _Engine:
    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _espeakINITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise RuntimeError(f"espeak-ng did not initialise (data at {data.decode()})")
        self.lib = lib
        self.sample_rate = rate
        self._chunks: list[bytes] = []
        self._words: list[tuple[int, float]] = []
        # Kept referenced: the library holds only the C pointer.
        self._callback = _Callback(self._on_synth)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav: Any, count: int, events: Any) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                self._words.append((event.text_position - 1, event.audio_position / 1000))
            index += 1
        return 0  # 0: go on synthesizing

    def synthesize(
        self, text: str, voice: str, rate: int
    ) -> tuple[bytes, int, list[tuple[int, float]]]:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise LookupError(f"espeak-ng has no voice {voice!r}")
        self.lib.espeak_SetParameter(_espeakRATE, min(max(rate, RATE_MIN), RATE_MAX), 0)
        self._chunks, self._words = [], []
        encoded = text.encode()
        status = self.lib.espeak_Synth(
            encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _espeakCHARS_UTF8, None, None
        )
        if status != _EE_OK:
            raise RuntimeError(f"espeak_Synth returned error {status}")
        return b"".join(self._chunks), self.sample_rate, self._words


HEADER = struct.Struct(">I")


class Request(msgspec.Struct, array_like=True):
    text: str
    voice: str
    rate: int


class Answer(msgspec.Struct, array_like=True):
    """`error` is "" on success, else "voice" (no such voice) or "engine" with `message`."""

    pcm: bytes = b""
    sample_rate: int = 0
    words: list[tuple[int, float]] = []
    error: str = ""
    message: str = ""


def read_frame(stream: IO[bytes]) -> bytes | None:
    """One length-prefixed body; None at end of stream (the other side is gone)."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    body = stream.read(size)
    return body if len(body) == size else None


def write_frame(stream: IO[bytes], body: bytes) -> None:
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    engine: _Engine | None = None
    decoder = msgspec.msgpack.Decoder(Request)
    while (body := read_frame(requests)) is not None:
        request = decoder.decode(body)
        try:
            if engine is None:
                engine = _Engine()
            pcm, rate, words = engine.synthesize(request.text, request.voice, request.rate)
            answer = Answer(pcm=pcm, sample_rate=rate, words=words)
        except LookupError as error:
            answer = Answer(error="voice", message=str(error))
        except (RuntimeError, OSError) as error:
            answer = Answer(error="engine", message=str(error))
        write_frame(answers, msgspec.msgpack.encode(answer))
