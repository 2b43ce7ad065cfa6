"""/api/v3/assets: uploads, URLs for the downloader to fetch, listing, bytes, deletion."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Request, Response, Router, delete, get, post, route
from litestar.params import QueryParameter

from adpipe.domain import asset
from adpipe.domain.asset import ASSETS, DeleteAsset, RegisterAsset
from adpipe.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from adpipe.events.asset import AssetMetadata, AssetRegistered, AssetStored
from adpipe.events.catalogue import stream_id
from adpipe.media import InvalidMedia
from adpipe.net.redact import redact_url
from adpipe.pricing import storage_cost
from adpipe.storage import url_secrets

from . import reads
from .blobs import BLOB_METHODS, blob_response
from .errors import BadRequest, errors_from_msgspec, problem_specs
from .fields import (
    CampaignIdFilter,
    ClientIdFilter,
    HttpUrl,
    Id,
    IdempotencyKey,
    Name,
    PageNumber,
    PageSize,
    Tags,
)
from .idempotency import Reply, run_once
from .job_access import json_response
from .openapi import asset_create_operation, binary_response
from .refs import (
    URL_TYPE_RULE,
    check_owner_refs,
    delete_unused,
    type_from_media_type,
    type_from_name,
    url_asset_type,
    url_file_name,
)
from .request_checks import JSON, MULTIPART, accepts
from .state import ApiState, IdSource, request_metadata
from .uploads import MAX_FIELD_BYTES, MAX_PARTS, Upload, receive_upload
from .views import API, AssetPage, AssetView, asset_view

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

AssetType = Literal["image", "video", "audio"]
MAX_JSON_BODY = 64 * 1024


class AssetUrlBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Register an asset by URL; the downloader fetches it (status pending, then ready/failed)."""

    json_schema_extra: ClassVar[dict[str, Any]] = URL_TYPE_RULE

    url: HttpUrl
    type: AssetType | None = None
    name: Name | None = None
    tags: Tags = msgspec.field(default_factory=list)
    client_id: Id | None = None
    campaign_id: Id | None = None


class UploadFields(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The text fields sent beside an uploaded file."""

    type: AssetType | None = None
    name: Name | None = None
    tags: Tags = msgspec.field(default_factory=list)
    client_id: Id | None = None
    campaign_id: Id | None = None


async def _view(api: ApiState, user: str, asset_id: str) -> AssetView:
    row = await api.lookups.assets.get(user, asset_id)
    return asset_view(reads.found(row, "asset", asset_id))


@get("/", summary="List assets", responses=problem_specs(422))
async def list_assets(
    api: ApiState,
    user: str,
    asset_type: Annotated[AssetType | None, QueryParameter(name="type")] = None,
    client_id: ClientIdFilter = None,
    campaign_id: CampaignIdFilter = None,
    tag: Annotated[str | None, QueryParameter(max_length=100)] = None,
    page: PageNumber = 1,
    page_size: PageSize = 20,
) -> AssetPage:
    rows, total = await reads.assets(
        api.core.pool,
        user,
        asset_type=asset_type,
        client_id=client_id,
        campaign_id=campaign_id,
        tag=tag,
        page=page,
        page_size=page_size,
    )
    return AssetPage(
        items=[asset_view(r) for r in rows], total=total, page=page, page_size=page_size
    )


@post(
    "/",
    summary="Upload an asset (multipart, field `file`) or register one by URL (JSON)",
    opt=accepts(JSON, MULTIPART),
    request_max_body_size=None,  # enforced while streaming, against settings.upload_max_bytes
    operation_class=asset_create_operation(AssetUrlBody, UploadFields),
    responses=problem_specs(400, 409, 413, 415, 422),
)
async def create_asset(
    api: ApiState,
    user: str,
    request: Request[Any, Any, Any],
    idempotency_key: IdempotencyKey = None,
) -> Response[AssetView]:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == MULTIPART:
        return await _upload(api, user, request)
    body = await _read_json_body(request)
    try:
        data = msgspec.json.decode(body, type=AssetUrlBody)
    except msgspec.ValidationError as exc:
        errors = errors_from_msgspec(exc)
        raise ValidationFailed(
            errors[0].message, [msgspec.to_builtins(e) for e in errors]
        ) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None

    async def work(ids: IdSource) -> Reply:
        return await _register_url(api, user, request, data, ids)

    return await run_once(api.core.pool, request, user, body, work)


async def _read_json_body(request: Request[Any, Any, Any]) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BODY:
            raise PayloadTooLarge(f"a JSON body is at most {MAX_JSON_BODY} bytes")
    if not body:
        raise BadRequest("the request needs a body")
    return bytes(body)


async def _register_url(
    api: ApiState, user: str, request: Request[Any, Any, Any], data: AssetUrlBody, ids: IdSource
) -> Reply:
    guards = await check_owner_refs(api.core.pool, user, data.client_id, data.campaign_id)
    asset_type = url_asset_type(data.url, data.type, "type")
    asset_id = ids.new("asset")
    registered = AssetRegistered(
        asset_id=asset_id,
        user_id=user,
        name=data.name or url_file_name(data.url),
        asset_type=asset_type,
        # Redacted: the log never holds a URL's credentials; the full URL is kept aside for the
        # downloader first (see adpipe.storage.url_secrets).
        source_url=redact_url(data.url),
        client_id=data.client_id,
        campaign_id=data.campaign_id,
        tags=data.tags,
    )
    command = RegisterAsset(registered=registered)
    stream = stream_id("asset", asset_id)
    if not await api.core.store.read_stream(stream):  # a retry may find it registered, or done
        await url_secrets.remember(api.core.pool, "asset", {asset_id: data.url})
    try:
        await api.create(ASSETS, asset_id, command, request_metadata(request, user), ids, guards)
    except Exception:
        if not await api.core.store.read_stream(stream):  # not registered: nothing will fetch it
            await url_secrets.forget(api.core.pool, "asset", [asset_id])
        raise
    view = await _view(api, user, asset_id)
    return Reply.of(201, view, {"location": f"{API}/assets/{asset_id}"})


async def _upload(api: ApiState, user: str, request: Request[Any, Any, Any]) -> Response[Any]:
    limit = api.settings.upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MAX_PARTS * MAX_FIELD_BYTES:
        raise PayloadTooLarge(f"the upload exceeds the limit of {limit} bytes")
    # Refused before a byte is read when the declared size, less what the form's framing and
    # text fields may take, already passes the day's quota; the file's own size is checked next.
    framing = MAX_PARTS * MAX_FIELD_BYTES
    await api.limits.check_upload(
        user, max(0, int(declared) - framing) if declared.isdigit() else 0
    )
    async with receive_upload(request, limit) as upload:
        await api.limits.check_upload(user, upload.size)
        fields = _upload_fields(upload)

        async def work(ids: IdSource) -> Reply:
            return await _store_upload(api, user, request, upload, fields, ids)

        return await run_once(api.core.pool, request, user, upload.digest(), work)


def _upload_fields(upload: Upload) -> UploadFields:
    raw: dict[str, Any] = {k: v[-1] for k, v in upload.fields.items() if k != "tags"}
    tags = [t for value in upload.fields.get("tags", []) for t in value.split(",")]
    raw["tags"] = [t.strip() for t in tags if t.strip()]
    for key in ("type", "name", "clientId", "campaignId"):
        if raw.get(key) == "":
            del raw[key]
    try:
        return msgspec.convert(raw, UploadFields)
    except msgspec.ValidationError as exc:
        errors = errors_from_msgspec(exc)
        raise ValidationFailed(
            errors[0].message, [msgspec.to_builtins(e) for e in errors]
        ) from None


def _upload_type(upload: Upload, fields: UploadFields) -> AssetType:
    asset_type = (
        fields.type or type_from_name(upload.filename) or type_from_media_type(upload.content_type)
    )
    if asset_type is None:
        raise ValidationFailed(
            "the asset type cannot be told from the file name; give its type",
            [{"field": "type", "message": "required: image, video or audio"}],
        )
    return asset_type


async def _store_upload(
    api: ApiState,
    user: str,
    request: Request[Any, Any, Any],
    upload: Upload,
    fields: UploadFields,
    ids: IdSource,
) -> Reply:
    guards = await check_owner_refs(api.core.pool, user, fields.client_id, fields.campaign_id)
    asset_type = _upload_type(upload, fields)
    metadata, thumbnail = await _describe(api, upload, asset_type)
    blobs = api.core.blobs
    blob = await blobs.put_file(upload.path, metadata.content_type)
    thumbnail_id = (await blobs.put_bytes(thumbnail, "image/jpeg")).id if thumbnail else None
    asset_id = ids.new("asset")
    command = RegisterAsset(
        registered=AssetRegistered(
            asset_id=asset_id,
            user_id=user,
            name=fields.name or upload.filename or "upload",
            asset_type=asset_type,
            client_id=fields.client_id,
            campaign_id=fields.campaign_id,
            tags=fields.tags,
        ),
        stored=AssetStored(
            blob_id=blob.id,
            metadata=metadata,
            thumbnail_blob_id=thumbnail_id,
            cost=storage_cost(blob.size_bytes, api.settings.prices),
        ),
    )
    await api.create(ASSETS, asset_id, command, request_metadata(request, user), ids, guards)
    view = await _view(api, user, asset_id)
    return Reply.of(201, view, {"location": f"{API}/assets/{asset_id}"})


async def _describe(
    api: ApiState, upload: Upload, asset_type: AssetType
) -> tuple[AssetMetadata, bytes | None]:
    """Probes the content (422 when it is not the declared type, or is over a media limit) and
    makes a thumbnail — in a bounded child process, so a crafted file cannot take the API down."""
    try:
        described = await api.media.describe(str(upload.path), asset_type)
    except InvalidMedia as exc:  # DecoderCrashed included: the file killed the decoder
        raise ValidationFailed(exc.detail, [{"field": "file", "message": exc.detail}]) from None
    if described.thumbnail_problem is not None:
        # A preview is a nicety: the asset is valid without one.
        log.warning("no thumbnail for an uploaded %s: %s", asset_type, described.thumbnail_problem)
    return described.metadata, described.thumbnail


@get("/{asset_id:str}", summary="Get an asset's metadata", responses=problem_specs(404))
async def get_asset(api: ApiState, user: str, asset_id: str) -> Response[AssetView]:
    row = reads.found(await api.lookups.assets.get(user, asset_id), "asset", asset_id)
    if row["document"] is not None:  # as the projection stored it: sent as it is
        return json_response(row["document"].encode())
    return Response(asset_view(row))  # a row from before stored views, until the rebuild


@route(
    "/{asset_id:str}/data",
    http_method=BLOB_METHODS,
    summary="The asset's bytes (supports Range, ETag / If-None-Match)",
    responses={**problem_specs(404, 409, 416), **binary_response("The asset's bytes")},
)
async def asset_data(
    api: ApiState, user: str, request: Request[Any, Any, Any], asset_id: str
) -> Response[Any]:
    row = reads.found(await reads.asset(api.core.pool, user, asset_id), "asset", asset_id)
    if row["status"] != "ready":
        raise Conflict(
            f"asset {asset_id} is {row['status']}; its bytes are served once it is ready",
            asset_status=row["status"],
        )
    return await blob_response(api.core.blobs, request, row["blob_id"], row["content_type"])


@route(
    "/{asset_id:str}/thumbnail",
    http_method=BLOB_METHODS,
    summary="A JPEG preview of the asset (404 when it has none, e.g. audio)",
    responses={**problem_specs(404), **binary_response("JPEG thumbnail", "image/jpeg")},
)
async def asset_thumbnail(
    api: ApiState, user: str, request: Request[Any, Any, Any], asset_id: str
) -> Response[Any]:
    row = reads.found(await reads.asset(api.core.pool, user, asset_id), "asset", asset_id)
    if not row["thumbnail_blob_id"]:
        raise NotFound(f"asset {asset_id} has no thumbnail")
    return await blob_response(api.core.blobs, request, row["thumbnail_blob_id"], "image/jpeg")


@delete(
    "/{asset_id:str}",
    summary="Delete an asset (not while an unfinished job uses it)",
    responses=problem_specs(404, 409),
)
async def delete_asset(
    api: ApiState, user: str, request: Request[Any, Any, Any], asset_id: str
) -> None:
    async def look() -> DeleteAsset:
        return DeleteAsset(used_by=await reads.jobs_using_asset(api.core.pool, user, asset_id))

    await delete_unused(
        api,
        ASSETS,
        asset_id,
        user,
        look,
        asset.deletion_guards,
        request_metadata(request, user),
    )


router = Router(
    path="/assets",
    route_handlers=[
        list_assets,
        create_asset,
        get_asset,
        asset_data,
        asset_thumbnail,
        delete_asset,
    ],
    tags=["assets"],
)
