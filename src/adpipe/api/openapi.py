"""OpenAPI pieces litestar cannot infer: bodies a handler parses itself, and binary responses.

`POST /assets` takes JSON or multipart and parses both itself (to stream uploads), so its request
body is described here — from the very msgspec structs that validate it, so the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)

_SIMPLE = {
    "enum": "enum",
    "pattern": "pattern",
    "maxLength": "max_length",
    "minLength": "min_length",
    "maxItems": "max_items",
    "minItems": "min_items",
    "minimum": "minimum",
    "maximum": "maximum",
    "title": "title",
    "description": "description",
    "default": "default",
}


def schema_of(struct: type[msgspec.Struct]) -> Schema:
    """A litestar Schema from msgspec's JSON Schema of `struct` ($refs inlined)."""
    document = msgspec.json.schema(struct)
    return _convert(document, document.get("$defs", {}))


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> Schema:
    if "$ref" in node:
        return _convert(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    values: dict[str, Any] = {field: node[key] for key, field in _SIMPLE.items() if key in node}
    if "type" in node:
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        types = [OpenAPIType(k) for k in kinds]
        values["type"] = types[0] if len(types) == 1 else types
    if "format" in node:
        values["format"] = OpenAPIFormat(node["format"])
    if "properties" in node:
        values["properties"] = {k: _convert(v, defs) for k, v in node["properties"].items()}
    if "required" in node:
        values["required"] = list(node["required"])
    if "items" in node:
        values["items"] = _convert(node["items"], defs)
    if "anyOf" in node:
        values["any_of"] = [_convert(n, defs) for n in node["anyOf"]]
    return Schema(**values)


def _upload_form(fields: type[msgspec.Struct]) -> Schema:
    form = schema_of(fields)
    properties = dict(form.properties or {})
    properties["file"] = Schema(
        type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description="The asset's bytes"
    )
    # In a form, tags come as one comma-separated field (or the field repeated).
    properties["tags"] = Schema(type=OpenAPIType.STRING, max_length=5000, pattern=r"^[^\x00]*$")
    return Schema(type=OpenAPIType.OBJECT, properties=properties, required=["file"])


def asset_create_operation(
    json_struct: type[msgspec.Struct], form_struct: type[msgspec.Struct]
) -> type[Operation]:
    """An Operation whose body is `json_struct` as JSON or `form_struct` plus a file as a form."""
    json_body = schema_of(json_struct)
    form_body = _upload_form(form_struct)

    @dataclass
    class AssetCreateOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                required=True,
                description="A file upload (multipart/form-data) or a URL to fetch (JSON).",
                content={
                    "application/json": OpenAPIMediaType(schema=json_body),
                    "multipart/form-data": OpenAPIMediaType(schema=form_body),
                },
            )

    return AssetCreateOperation


def binary_response(description: str, media_type: str = "*/*") -> dict[int, ResponseSpec]:
    """200, 206 (a Range) and 304 (If-None-Match) of a streamed blob."""
    specs = {}
    for status, what in ((200, description), (206, f"{description} (the requested range)")):
        specs[status] = ResponseSpec(
            data_container=bytes,
            description=what,
            media_type=media_type,
            generate_examples=False,
        )
    specs[304] = ResponseSpec(
        data_container=None, description="Not modified (ETag matched)", generate_examples=False
    )
    return specs
