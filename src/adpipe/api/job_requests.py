"""The body of `POST /jobs` (and `/jobs/dry-run`), and turning it into the job's creative.

Assets come as `{url, type?, name?}` — registered here for the downloader to fetch — or as
`{id}` of the user's own ready asset. `voiceover` is checked against the voices this deployment
speaks and recorded with its voice resolved, so a later change of the default changes no job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import msgspec
from msgspec import Meta

from adpipe.errors import ReferenceConflict, ValidationFailed
from adpipe.events.asset import AssetRegistered, AssetType
from adpipe.events.job import (
    AdBasics,
    AspectRatio,
    Creative,
    Direction,
    JobAssetRef,
    JobContext,
    Resolution,
    Voiceover,
)
from adpipe.net.redact import redact_url
from adpipe.voices import SPEED_MAX, SPEED_MIN, VoiceInfo, default_voice, find_voice

from . import reads
from .fields import NO_NUL, HttpUrl, Id, Name, Text
from .refs import URL_TYPE_RULE, url_asset_type, url_file_name

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from adpipe.settings import Settings

    from .state import IdSource

Short = Annotated[str, Meta(max_length=500, pattern=NO_NUL)]


class ContextBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    client_id: Id
    campaign_id: Id | None = None


class AdBasicsBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    product: Text
    target_audience: Text
    key_message: Text
    call_to_action: Text


class DirectionBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    style: Text
    tone: Short = ""
    visual_elements: Annotated[list[Short], Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )


class AssetBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Either `id` (an asset of yours that is ready) or `url` (fetched for this job)."""

    # The rules `resolve_creative` checks across fields, stated in /schema.
    json_schema_extra: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {
                "title": "An asset of yours, by id",
                "required": ["id"],
                "properties": {"id": {"type": "string"}, "url": {"type": "null"}},
            },
            {
                "title": "A file to fetch, by URL",
                "required": ["url"],
                "properties": {"url": {"type": "string"}, "id": {"type": "null"}},
                **URL_TYPE_RULE,
            },
        ]
    }

    id: Id | None = None
    url: HttpUrl | None = None
    type: AssetType | None = None
    name: Name | None = None


class VoiceoverBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Whether each scene's script is spoken; `voice` is one of GET /api/v3/voices (default:
    the deployment's), `speed` 0.5–2.0 times the voice's normal pace (default 1)."""

    enabled: bool = True
    voice: Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL)] | None = None
    speed: Annotated[float, Meta(ge=SPEED_MIN, le=SPEED_MAX)] | None = None


class CreativeBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    direction: DirectionBody
    assets: Annotated[list[AssetBody], Meta(max_length=20)] = msgspec.field(default_factory=list)
    duration_seconds: Annotated[float, Meta(ge=6, le=120)] = 30.0
    aspect_ratio: AspectRatio = "16:9"
    resolution: Resolution = "1080p"
    # Left out: narrated with the default voice at normal speed.
    voiceover: VoiceoverBody | None = None


class JobBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    context: ContextBody
    ad_basics: AdBasicsBody
    creative: CreativeBody

    def job_context(self) -> JobContext:
        return JobContext(client_id=self.context.client_id, campaign_id=self.context.campaign_id)

    def ad_basics_value(self) -> AdBasics:
        b = self.ad_basics
        return AdBasics(
            product=b.product.strip(),
            target_audience=b.target_audience.strip(),
            key_message=b.key_message.strip(),
            call_to_action=b.call_to_action.strip(),
        )


def resolve_voice(asked: str | None, settings: Settings) -> tuple[VoiceInfo | None, str]:
    """The voice a job will speak with, or None and why it is not available here."""
    name = asked or default_voice(settings.tts_model, settings.tts_voice)
    info = find_voice(name, settings.tts_model)
    if info is not None:
        return info, ""
    hint = "; cloud voices need ADPIPE_TTS_MODEL" if not settings.tts_model else ""
    if asked:
        return None, f"no voice {asked!r} here; GET /api/v3/voices lists them{hint}"
    return None, (
        f"this deployment's default voice {name!r} (ADPIPE_TTS_VOICE) is not available{hint}; "
        "name a voice from GET /api/v3/voices"
    )


def resolve_voiceover(body: VoiceoverBody | None, settings: Settings) -> tuple[Voiceover, str]:
    """The job's voiceover with its voice resolved, and a problem with the voice ("" if none).
    A disabled voiceover needs no voice, but one that is named must still exist."""
    body = body or VoiceoverBody()
    speed = round(body.speed, 3) if body.speed is not None else 1.0
    if not body.enabled and body.voice is None:
        return Voiceover(enabled=False, voice="", speed=speed), ""
    voice, problem = resolve_voice(body.voice, settings)
    name = voice.name if voice is not None else ""
    return Voiceover(enabled=body.enabled, voice=name, speed=speed), problem


async def resolve_creative(
    pool: AsyncConnectionPool[Any],
    user: str,
    body: JobBody,
    ids: IdSource,
    job_id: str,
    settings: Settings,
) -> tuple[Creative, list[AssetRegistered], dict[str, str]]:
    """The job's creative, the URL assets to register for the downloader, and the full URL of
    each of those by asset id (422 on bad refs or an unknown voice).

    The creative and the events carry each URL redacted (`redact_url`): what goes into the log
    holds no credential; the caller keeps the full URLs in `url_secrets` for the downloader."""
    given = body.creative.assets
    known = await reads.assets_by_id(pool, user, [a.id for a in given if a.id is not None])
    refs: list[JobAssetRef] = []
    registered: list[AssetRegistered] = []
    full_urls: dict[str, str] = {}
    errors: list[dict[str, str]] = []
    # Unknown or unusable ids and voices: the body is well formed, this user's state refuses it.
    unusable: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, asset in enumerate(given):
        where = f"creative.assets[{index}]"
        if (asset.id is None) == (asset.url is None):
            errors.append({"field": where, "message": "give either id or url"})
        elif asset.url is not None:
            asset_type = url_asset_type(asset.url, asset.type, f"{where}.type")
            asset_id = ids.new(f"asset:{index}")
            name = (asset.name or url_file_name(asset.url)).strip()
            full_urls[asset_id] = asset.url
            shown = redact_url(asset.url)
            registered.append(
                AssetRegistered(
                    asset_id=asset_id,
                    user_id=user,
                    name=name,
                    asset_type=asset_type,
                    source_url=shown,
                    client_id=body.context.client_id,
                    campaign_id=body.context.campaign_id,
                    job_id=job_id,
                )
            )
            refs.append(JobAssetRef(asset_id=asset_id, type=asset_type, name=name, url=shown))
        else:
            assert asset.id is not None
            row = known.get(asset.id)
            problem = _existing_problem(row, asset)
            if problem:
                unusable.append({"field": f"{where}.id", "message": problem})
                continue
            if asset.id in seen:
                # Listed again: the job uses it once, as a scene edit's assets do. Not an error
                # (JSON Schema cannot say "unique by id", and a repeat harms nothing).
                continue
            assert row is not None
            seen.add(asset.id)
            name = (asset.name or row["name"]).strip()
            refs.append(JobAssetRef(asset_id=asset.id, type=row["type"], name=name))
    voiceover, problem = resolve_voiceover(body.creative.voiceover, settings)
    if problem:
        unusable.append({"field": "creative.voiceover.voice", "message": problem})
    if errors:  # a body the schema allows has none of these: it is malformed, all are listed
        errors += unusable
        raise ValidationFailed(_summary(errors), errors)
    if unusable:
        raise ReferenceConflict(_summary(unusable), unusable)
    c = body.creative
    direction = Direction(
        style=c.direction.style.strip(),
        tone=c.direction.tone.strip(),
        visual_elements=[v.strip() for v in c.direction.visual_elements if v.strip()],
    )
    creative = Creative(
        direction=direction,
        assets=refs,
        duration_seconds=round(c.duration_seconds, 3),
        aspect_ratio=c.aspect_ratio,
        resolution=c.resolution,
        voiceover=voiceover,
    )
    return creative, registered, full_urls


def _summary(errors: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)


def _existing_problem(row: dict[str, object] | None, asset: AssetBody) -> str:
    if row is None:
        return "no asset with this id"
    if row["status"] != "ready":
        return f"the asset is {row['status']}; only ready assets can be used"
    if asset.type is not None and asset.type != row["type"]:
        return f"the asset is {_article(str(row['type']))}, not {_article(asset.type)}"
    return ""


def _article(asset_type: str) -> str:
    return {"image": "an image", "video": "a video", "audio": "an audio file"}[asset_type]
