"""The offline engine: espeak-ng in a worker process, word-timed by its own word events.

Why a process and not a thread with a lock: espeak-ng has one global synthesizer (calls must be
serialised anyway) and is C code fed arbitrary scripts; a crash in a worker fails one narration
with a reason, a crash in our process would take the whole voice service down, and again after
every restart as the message is redelivered. The worker is a plain `python -m` child speaking
length-prefixed msgpack over its stdin/stdout (see `espeak_lib`), started on first use and again
when found dead; multiprocessing's "spawn" would re-import the caller's main module, which
breaks any script without a main guard. A blocking call waits in a thread, never on the loop.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import msgspec
import numpy as np

from adpipe.voices import OFFLINE_ENGINE, espeak_voice_file

from . import espeak_lib
from .pcm import active_frames, frame_energy, wav_bytes
from .speech import Speech, TTSFailed
from .timing import from_word_events

WORKER_MODULE = __name__.rsplit(".", 1)[0] + ".espeak_worker"


class _Died(Exception):
    """The worker went away while it had our request."""


class _Worker:
    """One espeak-ng process shared by every synthesizer of this process; calls take turns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._decoder = msgspec.msgpack.Decoder(espeak_lib.Answer)
        self.in_flight = False  # a request is with the worker (tests wait on it)

    def call(self, request: espeak_lib.Request) -> espeak_lib.Answer:
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                process = self._process = subprocess.Popen(
                    [sys.executable, "-m", WORKER_MODULE],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
            assert process.stdin is not None and process.stdout is not None
            try:
                espeak_lib.write_frame(process.stdin, msgspec.msgpack.encode(request))
                self.in_flight = True
                body = espeak_lib.read_frame(process.stdout)
            except (BrokenPipeError, ValueError):  # ValueError: its pipe closed under us
                body = None
            finally:
                self.in_flight = False
            if body is None:
                self._stop(process)
                raise _Died()
            return self._decoder.decode(body)

    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def kill(self) -> None:
        """Kill the worker now, even while a call waits on it (the call then sees it die)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    def close(self) -> None:
        self.kill()
        with self._lock:
            if self._process is not None:
                self._stop(self._process)

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        if self._process is process:
            self._process = None


worker = _Worker()


def close() -> None:
    """Stop the worker process; the next synthesis starts a new one."""
    worker.close()


class EspeakSynthesizer:
    """`Synthesizer` over espeak-ng: speed 1.0 is its normal 175 words a minute."""

    engine = OFFLINE_ENGINE

    def __init__(self, *, timeout_seconds: float = 30.0) -> None:
        self._timeout = timeout_seconds

    async def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        text = " ".join(text.split())
        if not text:
            raise TTSFailed("there is no text to speak", code="empty_script")
        voice_file = espeak_voice_file(voice)
        if voice_file is None:
            raise TTSFailed(f"espeak-ng has no voice {voice!r}", code="unknown_voice")
        request = espeak_lib.Request(
            text=text, voice=voice_file, rate=round(espeak_lib.NORMAL_RATE * speed)
        )
        try:
            async with asyncio.timeout(self._timeout):
                answer = await asyncio.to_thread(worker.call, request)
        except TimeoutError:
            worker.kill()  # stuck in C: the waiting thread sees it die, the next call restarts it
            raise TTSFailed(
                f"espeak-ng did not finish within {self._timeout:g} s", code="engine_timeout"
            ) from None
        except _Died:
            raise TTSFailed(
                "espeak-ng's worker process died while speaking this script", code="engine_crashed"
            ) from None
        if answer.error == "voice":
            raise TTSFailed(answer.message, code="unknown_voice")
        if answer.error:
            raise TTSFailed(f"espeak-ng failed: {answer.message}", code="engine_failed")
        samples = np.frombuffer(answer.pcm, dtype="<i2")
        if samples.size == 0:
            raise TTSFailed("espeak-ng produced no audio for this script", code="no_audio")
        rate = answer.sample_rate
        duration = samples.size / rate
        active = active_frames(frame_energy(samples.astype(np.float32) / 32768, rate))
        return Speech(
            audio=wav_bytes(samples, rate),
            content_type="audio/wav",
            duration_seconds=round(duration, 3),
            words=from_word_events(text, answer.words, duration, active),
            characters=len(text),
            cost=0.0,
            engine=OFFLINE_ENGINE,
            voice=voice,
            speed=speed,
        )
