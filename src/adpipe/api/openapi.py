"""OpenAPI pieces litestar cannot infer: bodies a handler parses itself, binary responses, and
the exact constraints of request bodies.

Request bodies are described by msgspec's own JSON Schema of the structs that decode them, so
every length, range, pattern and enum the server enforces is stated in `/schema`.

`POST /assets` takes JSON or multipart and parses both itself (to stream uploads), so its request
body is described here — from the very msgspec structs that validate it, so the two agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Discriminator,
    OpenAPI,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

if TYPE_CHECKING:
    from litestar import Litestar

# JSON Schema keywords whose value is a schema, a list of schemas, or a map of names to schemas.
_ONE = frozenset({"items", "not", "if", "then", "else", "contains", "additionalProperties"})
_MANY = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_NAMED = frozenset({"properties", "patternProperties", "dependentSchemas"})
# Schema's attribute for each JSON Schema keyword (`minLength` -> `min_length`, `if` -> ...).
_FIELDS = {f.metadata.get("alias", f.name): f.name for f in dataclasses.fields(Schema)}

Node = dict[str, Any]


def schema_of(struct: type[msgspec.Struct]) -> Schema:
    """A litestar Schema from msgspec's JSON Schema of `struct` ($refs inlined)."""
    document = msgspec.json.schema(struct)
    schema = _convert(document, document.get("$defs", {}))
    assert isinstance(schema, Schema)
    return schema


def _convert(node: Node, defs: dict[str, Node] | None) -> Schema | Reference:
    """One JSON Schema node as a litestar Schema. With `defs`, `$ref`s are inlined from them;
    without, they stay references (to components)."""
    if "$ref" in node:
        if defs is None:
            return Reference(ref=node["$ref"])
        return _convert(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    values: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ONE and isinstance(value, dict):
            values[_FIELDS[key]] = _convert(value, defs)
        elif key in _MANY:
            values[_FIELDS[key]] = [_convert(n, defs) for n in value]
        elif key in _NAMED:
            values[_FIELDS[key]] = {k: _convert(n, defs) for k, n in value.items()}
        elif key == "type":
            kinds = [OpenAPIType(k) for k in (value if isinstance(value, list) else [value])]
            values["type"] = kinds[0] if len(kinds) == 1 else kinds
        elif key == "format":
            values["format"] = OpenAPIFormat(value)
        elif key == "discriminator":
            values["discriminator"] = Discriminator(
                property_name=value["propertyName"], mapping=value.get("mapping")
            )
        elif key in _FIELDS and key != "$defs":
            values[_FIELDS[key]] = value
    return Schema(**values)


def request_structs(app: Litestar) -> list[type[msgspec.Struct]]:
    """The msgspec structs that litestar decodes request bodies (`data`) into."""
    found: dict[str, type[msgspec.Struct]] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            data = handler.parsed_fn_signature.parameters.get("data")
            kind = data.annotation if data is not None else None
            if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
                found[kind.__qualname__] = kind
    return list(found.values())


def state_request_bodies(openapi: OpenAPI, structs: list[type[msgspec.Struct]]) -> None:
    """Replaces the components of request bodies by msgspec's own JSON Schema of them.

    litestar's schemas drop the constraints of list items and union members (a `list[Tag]`
    becomes a list of any strings); msgspec's schema states exactly what its decoder enforces,
    so the document and the validation come from the same struct."""
    _, components = msgspec.json.schema_components(
        structs, ref_template="#/components/schemas/{name}"
    )
    assert openapi.components is not None
    schemas = dict(openapi.components.schemas or {})
    for name, node in components.items():
        if name not in schemas:  # litestar named it otherwise: a second struct of that name
            raise RuntimeError(f"no OpenAPI component {name!r} to describe with msgspec's schema")
        schema = _convert(node, None)
        assert isinstance(schema, Schema)  # a struct's component is an object, never a $ref
        schemas[name] = schema
    openapi.components.schemas = schemas


def _not_null(schema: Schema | Reference) -> Schema | Reference:
    if isinstance(schema, Schema) and schema.any_of:
        kept = [s for s in schema.any_of if not (isinstance(s, Schema) and s.type == "null")]
        if len(kept) == 1:
            return kept[0]
    return schema


def _upload_form(fields: type[msgspec.Struct]) -> Schema:
    form = schema_of(fields)
    # A form field is text or absent, never null: optional fields are stated without their null.
    properties = {name: _not_null(schema) for name, schema in (form.properties or {}).items()}
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
