"""The offline engine for real: espeak-ng from the wheel, its WAV decoded back and its word
timings checked against where the audio's energy is."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import signal
import wave

import numpy as np
import pytest

from adpipe.services.voice.engine import EspeakSynthesizer, TTSFailed, synthesizer_for
from adpipe.services.voice.engine.espeak import worker
from adpipe.services.voice.engine.pcm import FRAME_SECONDS, active_frames, frame_energy

SEED_SCRIPTS = [
    "Life moves fast in the city.",
    "Stay connected to what matters most.",
    "Fitness tracking. Message alerts. Music control. All in one.",
    "Buy Now at SmartWatch.com",
]


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth()) == (1, 2)
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), "<i2")
    return samples.astype(np.float32) / 32768, rate


@pytest.mark.parametrize("script", SEED_SCRIPTS)
async def test_speech_energy_sits_inside_the_word_timings(script: str) -> None:
    speech = await EspeakSynthesizer().synthesize(script, voice="en-us", speed=1.0)

    samples, rate = read_wav(speech.audio)
    assert speech.content_type == "audio/wav"
    assert speech.duration_seconds == pytest.approx(samples.size / rate, abs=0.002)
    assert [w.word for w in speech.words] == script.split()
    assert all(0 <= w.start <= w.end <= speech.duration_seconds for w in speech.words)
    assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(speech.words))
    voiced = active_frames(frame_energy(samples, rate))
    times = (np.arange(voiced.size) + 0.5) * FRAME_SECONDS
    inside = np.zeros(voiced.size, bool)
    for word in speech.words:
        inside |= (times >= word.start - FRAME_SECONDS) & (times <= word.end + FRAME_SECONDS)
    assert voiced.sum() > 0.4 * voiced.size, "mostly speech"
    assert not (voiced & ~inside).any(), "every voiced frame lies inside some word"
    # Each word that espeak timed on its own is voiced for most of its span.
    for word in (w for w in speech.words if w.end - w.start >= 0.1):
        span = (times >= word.start) & (times < word.end)
        assert voiced[span].mean() > 0.5, word


async def test_pauses_at_full_stops_fall_between_words() -> None:
    speech = await EspeakSynthesizer().synthesize(SEED_SCRIPTS[2], voice="en-us", speed=1.0)
    words = speech.words
    gaps = [b.start - a.end for a, b in itertools.pairwise(words)]
    stops = [i for i, w in enumerate(words[:-1]) if w.word.endswith(".")]
    assert min(gaps[i] for i in stops) > 0.15
    assert max(g for i, g in enumerate(gaps) if i not in stops) < min(gaps[i] for i in stops)


async def test_faster_speed_gives_shorter_speech_and_costs_nothing() -> None:
    synth = EspeakSynthesizer()
    normal = await synth.synthesize(SEED_SCRIPTS[1], voice="en-us", speed=1.0)
    fast = await synth.synthesize(SEED_SCRIPTS[1], voice="en-us", speed=1.5)
    assert fast.duration_seconds < normal.duration_seconds * 0.8
    assert (normal.cost, normal.engine, normal.voice) == (0.0, "espeak-ng", "en-us")
    assert normal.characters == len(SEED_SCRIPTS[1])


async def test_other_languages_and_accented_words_keep_their_timings() -> None:
    text = "Café crème, naïve señor. Très bien !"
    speech = await EspeakSynthesizer().synthesize(text, voice="fr-fr", speed=1.0)
    assert [w.word for w in speech.words] == text.split()
    assert speech.words[4].start > speech.words[3].end + 0.1  # the pause at the full stop


async def test_concurrent_calls_take_turns_without_blocking_the_loop() -> None:
    synth = EspeakSynthesizer()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(tick())
    results = await asyncio.gather(
        *(synth.synthesize(s, voice="en-us", speed=1.0) for s in SEED_SCRIPTS * 3)
    )
    ticker.cancel()
    assert [r.words[0].word for r in results] == [s.split()[0] for s in SEED_SCRIPTS * 3]
    assert ticks > 0


async def test_unknown_voice_is_a_permanent_failure() -> None:
    with pytest.raises(TTSFailed) as failed:
        await EspeakSynthesizer().synthesize("Hello", voice="xx-nowhere", speed=1.0)
    assert (failed.value.code, failed.value.transient) == ("unknown_voice", False)
    with pytest.raises(TTSFailed) as no_engine:
        synthesizer_for("alloy", tts_model=None, timeout_seconds=5, price_per_character=0)
    assert "ADPIPE_TTS_MODEL" in no_engine.value.detail


async def test_empty_script_is_refused() -> None:
    with pytest.raises(TTSFailed) as failed:
        await EspeakSynthesizer().synthesize("  \n ", voice="en-us", speed=1.0)
    assert failed.value.code == "empty_script"


async def test_a_crash_mid_script_fails_that_narration_and_the_next_one_works() -> None:
    synth = EspeakSynthesizer()
    await synth.synthesize("Warm up.", voice="en-us", speed=1.0)
    pid = worker.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the request is certainly with the worker when it dies
    call = asyncio.create_task(synth.synthesize(SEED_SCRIPTS[0], voice="en-us", speed=1.0))
    async with asyncio.timeout(10):
        # A flag the calling thread sets once the request is written: there is nothing to await.
        while not worker.in_flight:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(TTSFailed) as failed:
        await call
    assert (failed.value.code, failed.value.transient) == ("engine_crashed", False)
    assert "died" in failed.value.detail

    again = await synth.synthesize(SEED_SCRIPTS[0], voice="en-us", speed=1.0)
    assert worker.pid() not in (None, pid)
    assert [w.word for w in again.words] == SEED_SCRIPTS[0].split()


async def test_a_worker_that_died_between_calls_is_restarted() -> None:
    synth = EspeakSynthesizer()
    await synth.synthesize("Warm up.", voice="en-us", speed=1.0)
    pid = worker.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    async with asyncio.timeout(10):
        while worker.pid() is not None:  # noqa: ASYNC110 (gone long before the next script)
            await asyncio.sleep(0.01)
    speech = await synth.synthesize(SEED_SCRIPTS[3], voice="en-us", speed=1.0)
    assert speech.duration_seconds > 0.5
