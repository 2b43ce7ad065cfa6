"""Fitting narration into its scene with the real offline engine: as asked when it fits, faster
(within bounds) when not, and a lengthened scene when even that is not enough."""

from __future__ import annotations

import pytest

from adpipe.services.voice.engine import EspeakSynthesizer, fit_narration

SCRIPT = "Fitness tracking. Message alerts. Music control. All in one."


async def spoken_length(speed: float = 1.0) -> float:
    speech = await EspeakSynthesizer().synthesize(SCRIPT, voice="en-us", speed=speed)
    return speech.duration_seconds


async def test_a_narration_that_fits_is_spoken_as_asked() -> None:
    fitted = await fit_narration(
        EspeakSynthesizer(), SCRIPT, voice="en-us", speed=1.0, scene_duration=10.0
    )
    assert (fitted.lengthened, fitted.note, fitted.scene_duration) == (False, "", 10.0)
    assert fitted.speech.speed == 1.0
    assert fitted.lead_seconds == pytest.approx(0.15)
    assert fitted.lead_seconds + fitted.speech.duration_seconds <= 10.0 - 0.25


async def test_a_slightly_long_narration_is_sped_up_to_fit() -> None:
    natural = await spoken_length()
    scene = round(natural / 1.12 + 0.4, 1)  # needs ~12% faster speech
    fitted = await fit_narration(
        EspeakSynthesizer(), SCRIPT, voice="en-us", speed=1.0, scene_duration=scene
    )
    assert not fitted.lengthened and fitted.scene_duration == scene
    assert 1.0 < fitted.speech.speed <= 1.25
    assert fitted.lead_seconds + fitted.speech.duration_seconds <= scene - 0.25
    assert "faster" in fitted.note


async def test_a_much_too_long_narration_lengthens_the_scene_at_the_fastest_speed() -> None:
    fitted = await fit_narration(
        EspeakSynthesizer(), SCRIPT, voice="en-us", speed=1.0, scene_duration=2.0
    )
    assert fitted.lengthened
    assert fitted.speech.speed == pytest.approx(1.25)
    needed = 0.15 + fitted.speech.duration_seconds + 0.25
    assert needed <= fitted.scene_duration < needed + 0.1 + 1e-9
    assert round(fitted.scene_duration * 10) == pytest.approx(fitted.scene_duration * 10)
    assert "lengthened from 2 s" in fitted.note


async def test_the_speed_up_is_bounded_by_the_asked_speed() -> None:
    fitted = await fit_narration(
        EspeakSynthesizer(),
        SCRIPT,
        voice="en-us",
        speed=0.8,
        scene_duration=2.0,
        max_speedup=1.1,
    )
    assert fitted.lengthened
    assert fitted.speech.speed == pytest.approx(0.88)
