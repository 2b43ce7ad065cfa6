"""/api/v3/voices, and a job's narration: each scene's audio (during review and after) and the
subtitles as WebVTT and SRT sidecars, cut from the same word timings as the burned-in captions."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import HttpMethod, Request, Response, Router, get, route
from litestar.openapi.datastructures import ResponseSpec

from adpipe.captions import to_srt, to_vtt
from adpipe.domain.narration import current_narration, narration_status, voiceover_on
from adpipe.errors import Conflict, NotFound
from adpipe.voices import SPEED_MAX, SPEED_MIN, VoiceInfo, available_voices, default_voice

from .blobs import BLOB_METHODS, blob_response
from .errors import problem_specs
from .job_access import job_row, job_state
from .narration_views import caption_cues
from .openapi import binary_response
from .state import ApiState

# File name endings of the audio formats the engines answer.
_EXTENSIONS = {"audio/wav": ".wav", "audio/mpeg": ".mp3", "audio/ogg": ".ogg"}
VTT = "text/vtt"
SRT = "application/x-subrip"


class VoicesView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The voices `creative.voiceover.voice` may name; `default` speaks when it names none."""

    items: list[VoiceInfo]
    default: str
    speed_min: float
    speed_max: float


@get(
    "/",
    summary="The voices this deployment can speak (offline ones need no network)",
    responses=problem_specs(),
)
async def list_voices(api: ApiState) -> VoicesView:
    settings = api.settings
    return VoicesView(
        items=available_voices(settings.tts_model),
        default=default_voice(settings.tts_model, settings.tts_voice),
        speed_min=SPEED_MIN,
        speed_max=SPEED_MAX,
    )


voices_router = Router(path="/voices", route_handlers=[list_voices], tags=["voices"])


@route(
    "/{job_id:str}/scenes/{scene_number:int}/voiceover",
    http_method=BLOB_METHODS,
    summary="A scene's narration audio (Range, ETag / If-None-Match); 409 while it is made",
    responses={
        **problem_specs(404, 409, 416),
        **binary_response("The narration (WAV or MP3)", "audio/*"),
    },
)
async def scene_voiceover(
    api: ApiState, user: str, request: Request[Any, Any, Any], job_id: str, scene_number: int
) -> Response[Any]:
    state = job_state(await job_row(api, user, job_id))
    if not 1 <= scene_number <= len(state.scenes):
        raise NotFound(f"job {job_id} has no scene {scene_number}")
    scene = state.scenes[scene_number - 1]
    status = narration_status(state, scene)
    if status == "none":
        why = "the job's voiceover is off" if not voiceover_on(state) else "its script says nothing"
        raise NotFound(f"scene {scene_number} of job {job_id} has no narration: {why}")
    narration = current_narration(state, scene)
    if narration is None:
        state_of = "being made" if status == "pending" else "failed; edit or regenerate the scene"
        raise Conflict(
            f"the narration of scene {scene_number} is {state_of}", job_status=state.status
        )
    extension = _EXTENSIONS.get(narration.content_type, "")
    return await blob_response(
        api.core.blobs,
        request,
        narration.blob_id,
        narration.content_type,
        filename=f"adpipe-{job_id}-scene-{scene_number}{extension}",
    )


async def _cues_text(api: ApiState, user: str, job_id: str, kind: str) -> str:
    state = job_state(await job_row(api, user, job_id))
    if not state.scenes:
        raise Conflict(
            f"job {job_id} is {state.status}; subtitles exist once its storyboard does",
            job_status=state.status,
        )
    cues = caption_cues(state)
    return to_vtt(cues) if kind == "vtt" else to_srt(cues)


def _text_response(
    request: Request[Any, Any, Any], text: str, media_type: str, filename: str
) -> Response[bytes]:
    body = text.encode()
    headers = {
        "content-disposition": f'inline; filename="{filename}"',
        "cache-control": "private, no-cache",  # changes with every edit during review
        "content-length": str(len(body)),
    }
    return Response(
        content=b"" if request.method == HttpMethod.HEAD else body,
        media_type=f"{media_type}; charset=utf-8",
        headers=headers,
    )


def _text_spec(description: str, media_type: str) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(
            data_container=str,
            description=description,
            media_type=media_type,
            generate_examples=False,
        )
    }


@route(
    "/{job_id:str}/subtitles.vtt",
    http_method=BLOB_METHODS,
    summary="The subtitles as WebVTT, timed to the narration; 409 before the storyboard exists",
    media_type=VTT,
    responses={**problem_specs(404, 409), **_text_spec("WebVTT subtitles", VTT)},
)
async def subtitles_vtt(
    api: ApiState, user: str, request: Request[Any, Any, Any], job_id: str
) -> Response[bytes]:
    text = await _cues_text(api, user, job_id, "vtt")
    return _text_response(request, text, VTT, f"adpipe-{job_id}.vtt")


@route(
    "/{job_id:str}/subtitles.srt",
    http_method=BLOB_METHODS,
    summary="The subtitles as SubRip (SRT), timed to the narration; 409 before the storyboard",
    media_type=SRT,
    responses={**problem_specs(404, 409), **_text_spec("SubRip subtitles", SRT)},
)
async def subtitles_srt(
    api: ApiState, user: str, request: Request[Any, Any, Any], job_id: str
) -> Response[bytes]:
    text = await _cues_text(api, user, job_id, "srt")
    return _text_response(request, text, SRT, f"adpipe-{job_id}.srt")


narration_handlers = [scene_voiceover, subtitles_vtt, subtitles_srt]
