"""How a job's narration shows in the API: each scene's voiceover, the sidecar subtitle URLs, and
the cues the sidecars are built from (the narrations' word timings, else estimated ones)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from adpipe.captions import Cue, SceneWords, build_cues, estimate_words
from adpipe.domain.narration import (
    NarrationStatus,
    current_failure,
    current_narration,
    narration_status,
    spoken,
)
from adpipe.events.narration import WordTiming

if TYPE_CHECKING:
    from adpipe.domain.job import JobState
    from adpipe.events.scene import Scene

API = "/api/v3"


class NarrationErrorView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    code: str
    message: str


class SceneVoiceoverView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A scene's narration: `pending` while it is made, `ready` with its audio at `url`,
    `failed` with the `error` (edit or regenerate the scene to try again), `none` when the job's
    voiceover is off or the script has nothing to say."""

    status: NarrationStatus
    url: str | None = None
    duration_seconds: float | None = None
    # Where the speech starts inside the scene; word times are from the audio's start.
    lead_seconds: float | None = None
    words: list[WordTiming] | None = None
    voice: str | None = None
    engine: str | None = None
    speed: float | None = None
    # What fitting it to the scene changed (spoken faster, scene lengthened), if anything.
    note: str | None = None
    error: NarrationErrorView | None = None


class SubtitlesUrls(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    vtt: str
    srt: str


def voiceover_url(job_id: str, scene_number: int) -> str:
    return f"{API}/jobs/{job_id}/scenes/{scene_number}/voiceover"


def subtitles_urls(job_id: str) -> SubtitlesUrls:
    base = f"{API}/jobs/{job_id}/subtitles"
    return SubtitlesUrls(vtt=f"{base}.vtt", srt=f"{base}.srt")


def scene_voiceover(state: JobState, scene: Scene) -> SceneVoiceoverView:
    status = narration_status(state, scene)
    narration = current_narration(state, scene)
    if status == "ready" and narration is not None:
        return SceneVoiceoverView(
            status=status,
            url=voiceover_url(state.job_id, scene.scene_number),
            duration_seconds=narration.duration_seconds,
            lead_seconds=narration.lead_seconds,
            words=list(narration.words),
            voice=narration.voice,
            engine=narration.engine,
            speed=narration.speed,
            note=narration.note or None,
        )
    failure = current_failure(state, scene)
    if status == "failed" and failure is not None:
        return SceneVoiceoverView(
            status=status, error=NarrationErrorView(code=failure.code, message=failure.message)
        )
    return SceneVoiceoverView(status=status)


def caption_cues(state: JobState) -> list[Cue]:
    """The cues of the storyboard as it stands: each narrated scene's words when they are
    spoken; a scene not narrated (voiceover off, narration pending or failed) gets its words
    spread over the scene, so the sidecars exist either way; an unspoken script has no cue."""
    scenes: list[SceneWords] = []
    start = 0.0
    for scene in state.scenes:
        narration = current_narration(state, scene)
        if narration is not None:
            words, offset, script = list(narration.words), narration.lead_seconds, scene.script
        elif spoken(scene.script):
            words, offset, script = estimate_words(scene.script, scene.duration), 0.0, scene.script
        else:
            words, offset, script = [], 0.0, ""
        scenes.append(
            SceneWords(
                scene_start=start,
                scene_duration=scene.duration,
                offset=offset,
                words=words,
                script=script,
            )
        )
        start = round(start + scene.duration, 6)
    return build_cues(scenes)
