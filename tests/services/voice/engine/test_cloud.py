"""The cloud engine over real HTTP: litellm's `aspeech` against a scripted OpenAI-compatible
speech server on 127.0.0.1, reached through `OPENAI_BASE_URL` as an operator would set it."""

from __future__ import annotations

import msgspec
import pytest

from adpipe.services.voice.engine import CloudSynthesizer, TTSFailed, synthesizer_for
from testkit.speech_provider import Answer, FakeSpeechProvider, bursts, error, speech

MODEL = "openai/tts-1"
PRICE = 0.000015  # OpenAI's tts-1: $15 per million characters


def cloud(timeout: float = 5.0) -> CloudSynthesizer:
    synth = synthesizer_for(
        "nova", tts_model=MODEL, timeout_seconds=timeout, price_per_character=PRICE
    )
    assert isinstance(synth, CloudSynthesizer)
    return synth


async def test_request_carries_script_voice_and_speed_and_the_cost_is_per_character(
    provider: FakeSpeechProvider,
) -> None:
    script = "Stay connected to what matters most."
    result = await cloud().synthesize(script, voice="nova", speed=1.2)

    (request,) = provider.requests
    assert (request["model"], request["input"], request["voice"]) == ("tts-1", script, "nova")
    assert request["speed"] == pytest.approx(1.2)
    assert provider.headers[0]["Authorization"] == "Bearer sk-test"
    assert result.content_type == "audio/mpeg" and result.audio[:3] in (b"ID3", b"\xff\xfb")
    assert result.cost == pytest.approx(len(script) * PRICE)
    assert (result.characters, result.engine, result.voice) == (len(script), "litellm", "nova")
    spans = bursts(script, 1.2)
    assert result.duration_seconds == pytest.approx(spans[-1][1] + 0.1, abs=0.06)


async def test_estimated_word_timings_follow_the_voiced_audio(
    provider: FakeSpeechProvider,
) -> None:
    script = "Fitness tracking. Message alerts. Music control. All in one."
    result = await cloud().synthesize(script, voice="alloy", speed=1.0)

    assert [w.word for w in result.words] == script.split()
    msgspec.json.encode(result.words)  # plain floats: they go into events as they are
    # Each word's estimate overlaps its own tone burst more than any other (MP3 adds ~50 ms
    # of encoder delay, hence the tolerance).
    for word, (start, end) in zip(result.words, bursts(script, 1.0), strict=True):
        assert abs(word.start - start) < 0.2 and abs(word.end - end) < 0.2, (word, start, end)
    # The pauses after full stops fall between words, not inside them.
    for index, word in enumerate(result.words[:-1]):
        if word.word.endswith("."):
            assert result.words[index + 1].start - word.end > 0.2


async def test_rate_limit_is_transient_and_the_next_call_succeeds(
    provider: FakeSpeechProvider,
) -> None:
    provider.play(error(429, **{"retry-after": "2"}), speech())
    synth = cloud()
    with pytest.raises(TTSFailed) as failed:
        await synth.synthesize("Buy Now at SmartWatch.com", voice="nova", speed=1.0)
    assert (failed.value.transient, failed.value.code) == (True, "rate_limited")
    assert failed.value.retry_after == pytest.approx(2.0)

    result = await synth.synthesize("Buy Now at SmartWatch.com", voice="nova", speed=1.0)
    assert result.duration_seconds > 1.0
    assert len(provider.requests) == 2, "litellm must not retry on its own"


async def test_server_errors_are_transient(provider: FakeSpeechProvider) -> None:
    provider.play(error(500), repeat_last=True)
    synth = cloud()
    for _ in range(3):
        with pytest.raises(TTSFailed) as failed:
            await synth.synthesize("Life moves fast in the city.", voice="nova", speed=1.0)
        assert (failed.value.transient, failed.value.code) == (True, "unavailable")
        assert "500" in failed.value.detail
    assert len(provider.requests) == 3


async def test_a_slow_provider_times_out_as_transient(provider: FakeSpeechProvider) -> None:
    provider.play(Answer(delay=3.0))
    with pytest.raises(TTSFailed) as failed:
        await cloud(timeout=0.5).synthesize("Life moves fast.", voice="nova", speed=1.0)
    assert failed.value.transient
    assert failed.value.code in ("timeout", "unavailable")


async def test_a_rejected_request_is_permanent(provider: FakeSpeechProvider) -> None:
    provider.play(error(400))
    with pytest.raises(TTSFailed) as failed:
        await cloud().synthesize("Life moves fast.", voice="nova", speed=1.0)
    assert (failed.value.transient, failed.value.code) == (False, "rejected")


async def test_an_answer_that_is_not_audio_is_permanent(provider: FakeSpeechProvider) -> None:
    provider.play(Answer(body=b"<html>gateway says hello</html>"))
    with pytest.raises(TTSFailed) as failed:
        await cloud().synthesize("Life moves fast.", voice="nova", speed=1.0)
    assert (failed.value.transient, failed.value.code) == (False, "bad_audio")
    assert "not audio" in failed.value.detail
