"""OpenAPI pieces litestar cannot infer: bodies a handler parses itself, binary responses, and
the exact constraints of request bodies.

Request bodies are described by msgspec's own JSON Schema of the types that decode them (structs
and tagged unions, decoded strictly by `request_checks`), so every length, range, pattern, enum
and required field the server enforces is stated in `/schema`; a struct's `json_schema_extra`
adds the rules it checks across fields (an asset by id or by URL, a URL that tells its type).

`POST /assets` takes JSON or multipart and parses both itself (to stream uploads), so its request
body is described here — from the very msgspec structs that validate it, so the two agree.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Discriminator,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

from .fields import SPACE
from .request_checks import body_type
from .uploads import MAX_FIELD_BYTES

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
    """A litestar Schema from msgspec's JSON Schema of `struct` ($refs inlined), with the
    cross-field rules of its `json_schema_extra`."""
    document = msgspec.json.schema(struct)
    defs = _with_extras(document.get("$defs", {}), [struct])
    schema = _convert(document, defs)
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


def state_request_bodies(app: Litestar) -> None:
    """Describes every JSON request body by msgspec's own JSON Schema of what decodes it.

    litestar's schemas drop the constraints of list items and union members (a `list[Tag]`
    becomes a list of any strings) and know no discriminator; msgspec's schema states exactly
    what its decoder enforces, so the document and the validation come from the same types.
    A struct's `json_schema_extra` (a ClassVar) adds the cross-field rules its checks enforce."""
    bodies: list[tuple[Operation, Any]] = []
    paths = app.openapi_schema.paths or {}
    for route in app.routes:
        item = paths.get(getattr(route, "path_format", ""))
        for handler in getattr(route, "route_handlers", ()):
            kind = body_type(handler)
            for method in getattr(handler, "http_methods", ()) if kind is not None else ():
                operation = getattr(item, method.lower(), None) if item is not None else None
                if isinstance(operation, Operation):
                    bodies.append((operation, kind))
    if not bodies:
        return
    schemas, components = msgspec.json.schema_components(
        [kind for _, kind in bodies], ref_template="#/components/schemas/{name}"
    )
    assert app.openapi_schema.components is not None
    stated = dict(app.openapi_schema.components.schemas or {})
    for name, node in _with_extras(components, [kind for _, kind in bodies]).items():
        schema = _convert(node, None)
        assert isinstance(schema, Schema)  # a struct's component is an object, never a $ref
        stated[name] = schema
    app.openapi_schema.components.schemas = stated
    for (operation, _), node in zip(bodies, schemas, strict=True):
        body = operation.request_body
        assert isinstance(body, RequestBody)  # litestar documented the `data` it found
        body.content = {"application/json": OpenAPIMediaType(schema=_body_schema(node))}


def _with_extras(defs: dict[str, Node], kinds: list[Any]) -> dict[str, Node]:
    """`defs` (msgspec's schemas by struct name) with each struct's `json_schema_extra` (the
    cross-field rules it checks) merged in, for every struct reachable from `kinds`."""
    extras: dict[str, Node] = {}

    def visit(kind: Any) -> None:
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            if kind.__name__ in extras:
                return
            extras[kind.__name__] = getattr(kind, "json_schema_extra", {})
            for hint in typing.get_type_hints(kind, include_extras=True).values():
                visit(hint)
        for arg in typing.get_args(kind):
            visit(arg)

    for kind in kinds:
        visit(kind)
    return {name: {**node, **extras.get(name, {})} for name, node in defs.items()}


def _body_schema(node: Node) -> Schema | Reference:
    """A body's schema; a tagged union (msgspec's anyOf + discriminator) is stated as oneOf: its
    members exclude each other by their tag."""
    if "discriminator" in node and "anyOf" in node:
        node = {"oneOf": node["anyOf"], "discriminator": node["discriminator"]}
    return _convert(node, None)


def _form_field(schema: Schema | Reference) -> Schema | Reference:
    """An optional form field: text or absent, never null; empty text counts as absent."""
    if isinstance(schema, Schema) and schema.any_of:
        kept = [s for s in schema.any_of if not (isinstance(s, Schema) and s.type == "null")]
        if len(kept) == 1:
            schema = kept[0]
    empty = Schema(type=OpenAPIType.STRING, max_length=0)
    return Schema(any_of=[schema, empty])


def _tag_list() -> Schema:
    """In a form, tags come as one comma-separated field, each tag stripped of spaces and blank
    ones dropped: at most `Tags`' 50 tags of 1-100 characters, as `_upload_fields` splits them."""
    space = f"[{SPACE}]"
    gap = f"[{SPACE},]*"  # spaces and commas: blank tags between the real ones
    tag = rf"[^{SPACE},\x00](?:[^,\x00]{{0,98}}[^{SPACE},\x00])?"
    pattern = rf"^{gap}(?:{tag}(?:{space}*,{gap}{tag}){{0,49}})?{gap}$"
    return Schema(
        type=OpenAPIType.STRING,
        pattern=pattern,
        # The server reads at most MAX_FIELD_BYTES of a field; any text this long fits in them.
        max_length=MAX_FIELD_BYTES // 4,
        description="Comma-separated tags, e.g. `hero, product` (at most 50, each at most 100"
        " characters)",
    )


def _upload_form(fields: type[msgspec.Struct]) -> Schema:
    form = schema_of(fields)
    properties = {name: _form_field(schema) for name, schema in (form.properties or {}).items()}
    properties["file"] = Schema(
        type=OpenAPIType.STRING,
        format=OpenAPIFormat.BINARY,
        # What JSON Schema cannot state about bytes, said in words.
        description="The asset's bytes: a readable image, video or audio file of its `type`"
        " (when `type` is left out, told from the file name's extension or the part's"
        " Content-Type); other content answers 422 naming `file`",
    )
    properties["tags"] = _tag_list()
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
