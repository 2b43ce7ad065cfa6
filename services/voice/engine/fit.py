"""Make a narration fit its scene, as a careful editor would: speech starts `lead_seconds` into the
scene and ends at least `tail_seconds` before its end. Too long at the asked speed, it is spoken
faster, up to `max_speedup` times; still too long, the scene is lengthened to hold it (rounded up
to 0.1 s) and `note` says so, so the job can tell the reviewer."""

from __future__ import annotations

import math

import msgspec

from adpipe.voices import NARRATION_LEAD_SECONDS, NARRATION_TAIL_SECONDS

from .speech import Speech, Synthesizer

# Speech length is not exactly inverse to speed (pauses at full stops shrink less than words),
# so the speed-up aims this much short of the available time, and is tried at most this often.
_AIM = 0.98
_TRIES = 3


class FittedNarration(msgspec.Struct, frozen=True, kw_only=True):
    speech: Speech
    lead_seconds: float
    scene_duration: float
    lengthened: bool
    note: str


async def fit_narration(
    synth: Synthesizer,
    script: str,
    *,
    voice: str,
    speed: float,
    scene_duration: float,
    max_speedup: float = 1.25,
    lead_seconds: float = NARRATION_LEAD_SECONDS,
    tail_seconds: float = NARRATION_TAIL_SECONDS,
) -> FittedNarration:
    available = scene_duration - lead_seconds - tail_seconds
    speech = await synth.synthesize(script, voice=voice, speed=speed)
    fastest = speed * max_speedup
    tries = 0
    while speech.duration_seconds > available and speech.speed < fastest and tries < _TRIES:
        tries += 1
        wanted = speech.speed * speech.duration_seconds / max(available * _AIM, 1e-3)
        speech = await synth.synthesize(script, voice=voice, speed=min(fastest, wanted))
    if speech.duration_seconds <= available:
        note = ""
        if speech.speed > speed:
            note = (
                f"The narration was spoken {speech.speed / speed:.2f}x faster to fit its "
                f"{scene_duration:g} s scene."
            )
        return FittedNarration(
            speech=speech,
            lead_seconds=lead_seconds,
            scene_duration=scene_duration,
            lengthened=False,
            note=note,
        )
    needed = math.ceil((lead_seconds + speech.duration_seconds + tail_seconds) * 10 - 1e-6) / 10
    faster = f", even {speech.speed / speed:.2f}x faster," if speech.speed > speed else ""
    return FittedNarration(
        speech=speech,
        lead_seconds=lead_seconds,
        scene_duration=needed,
        lengthened=True,
        note=(
            f"The scene was lengthened from {scene_duration:g} s to {needed:g} s: its narration"
            f"{faster} takes {speech.duration_seconds:.1f} s."
        ),
    )
