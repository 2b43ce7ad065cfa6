"""What every aggregate but the job's shares: how the application layer finds its rules.

A user's client, campaign, asset or webhook subscription is a stream `<kind>-<id>`; its module
has a pure `fold` (the stream's events to a state) and `decide` (a command to events, or a domain
error). `adpipe.resources.execute` is the one loop that loads, decides and appends for all four.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import msgspec

from adpipe.errors import NotFound

if TYPE_CHECKING:
    from adpipe.events.base import Event
    from adpipe.events.catalogue import Envelope


class ResourceState(msgspec.Struct, frozen=True, kw_only=True):
    """What every resource's state has: the stream version it reflects, its owner, its end."""

    version: int = 0
    user_id: str = ""
    deleted: bool = False

    @property
    def exists(self) -> bool:
        return self.version > 0 and not self.deleted


class Command(msgspec.Struct, frozen=True, kw_only=True):
    """The base of every resource command (each aggregate's `decide` matches its own)."""


S = TypeVar("S", bound=ResourceState)
C = TypeVar("C")
T = TypeVar("T", bound=msgspec.Struct)


@dataclass(frozen=True)
class Aggregate(Generic[S, C]):
    kind: str
    fold: Callable[[Sequence[Envelope]], S]
    decide: Callable[[S, C], list[Event]]


def fold_events(initial: T, evolve: Callable[[T, Event], T], envelopes: Sequence[Envelope]) -> T:
    """The state a stream's events leave, at the version of its last one."""
    state = initial
    for envelope in envelopes:
        state = msgspec.structs.replace(evolve(state, envelope.data), version=envelope.version)
    return state


def missing(kind: str, entity_id: str) -> NotFound:
    """The one answer for a resource that never existed, was deleted, or is someone else's."""
    return NotFound(f"{kind} {entity_id} does not exist")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"
