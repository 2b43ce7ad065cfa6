"""The base of every event payload: frozen, keyword-only, camelCase, tagged by its type name.

Schema evolution rules (msgspec's, and ours): add fields only with defaults; never change a field's
type; never reuse a type name. A changed meaning gets a new type name.
"""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag_field="type"):
    """A past-tense fact. Subclasses set `tag="<kind>.<name>"`; the kind is the stream's kind."""

    @classmethod
    def type_name(cls) -> str:
        tag = cls.__struct_config__.tag
        assert isinstance(tag, str), f"{cls.__name__} has no tag"
        return tag


class Usage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """LLM token usage and its cost in USD (zero for the built-in planner)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
