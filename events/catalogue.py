"""The whole catalogue: one union of every event type, the envelope, and the one codec for both."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from .asset import ASSET_EVENTS, AssetDeleted, AssetFailed, AssetRegistered, AssetStored
from .base import Event
from .job import (
    JOB_EVENTS,
    AssetDownloaded,
    JobApproved,
    JobCancelled,
    JobCreated,
    JobFailed,
    RegenerationFailed,
    RenderCompleted,
    RenderProgress,
    RenderQueued,
    RenderStarted,
    SceneRegenerated,
    SceneRegenerationRequested,
    ScenesGenerated,
    SceneUpdated,
    StoryboardRegenerationRequested,
    StoryboardRejected,
)
from .narration import NarrationFailed, NarrationSynthesized
from .party import (
    PARTY_EVENTS,
    CampaignCreated,
    CampaignDeleted,
    CampaignUpdated,
    ClientCreated,
    ClientDeleted,
    ClientUpdated,
)
from .webhook import (
    WEBHOOK_EVENTS,
    WebhookDeleted,
    WebhookDisabled,
    WebhookSecretRotated,
    WebhookSubscribed,
    WebhookTest,
    WebhookUpdated,
)

AnyEvent = (
    JobCreated
    | AssetDownloaded
    | ScenesGenerated
    | SceneRegenerationRequested
    | StoryboardRegenerationRequested
    | StoryboardRejected
    | SceneRegenerated
    | RegenerationFailed
    | SceneUpdated
    | JobApproved
    | RenderQueued
    | RenderStarted
    | RenderProgress
    | RenderCompleted
    | JobFailed
    | JobCancelled
    | NarrationSynthesized
    | NarrationFailed
    | AssetRegistered
    | AssetStored
    | AssetFailed
    | AssetDeleted
    | ClientCreated
    | ClientUpdated
    | ClientDeleted
    | CampaignCreated
    | CampaignUpdated
    | CampaignDeleted
    | WebhookSubscribed
    | WebhookUpdated
    | WebhookSecretRotated
    | WebhookDeleted
    | WebhookDisabled
    | WebhookTest
)

ALL_EVENTS: tuple[type[Event], ...] = JOB_EVENTS + ASSET_EVENTS + PARTY_EVENTS + WEBHOOK_EVENTS
EVENT_TYPES: dict[str, type[Event]] = {cls.type_name(): cls for cls in ALL_EVENTS}
STREAM_KINDS = ("job", "asset", "client", "campaign", "webhook")


class Metadata(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """Who caused an event and why: the actor, the chain of causes, the HTTP request."""

    actor: str = "system"
    correlation_id: str | None = None
    causation_id: str | None = None
    request_id: str | None = None
    # W3C trace context of the span that appended the event, while tracing is on.
    traceparent: str | None = None


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event about to be appended; a caller that retries reuses `id` to stay idempotent."""

    event: Event
    id: str = msgspec.field(default_factory=lambda: str(uuid.uuid4()))


class Envelope(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A recorded event: its place in its stream (`version`) and in the whole log (`position`)."""

    id: str
    stream: str
    version: int
    position: int
    type: str
    data: AnyEvent
    metadata: Metadata
    recorded_at: datetime
    hash: str = ""

    @property
    def kind(self) -> str:
        return stream_kind(self.stream)

    @property
    def entity_id(self) -> str:
        return self.stream.split("-", 1)[1]

    @property
    def subject(self) -> str:
        return subject_for(self.type)


def stream_id(kind: str, entity_id: str) -> str:
    """`job-<uuid>`: the stream's kind is everything before the first dash."""
    return f"{kind}-{entity_id}"


def stream_kind(stream: str) -> str:
    return stream.split("-", 1)[0]


def subject_for(event_type: str) -> str:
    """`adpipe.<stream-kind>.<name>`: an event type already starts with its stream's kind."""
    return f"adpipe.{event_type}"


_event_decoder = msgspec.json.Decoder(AnyEvent)
_envelope_decoder = msgspec.json.Decoder(Envelope)
_encoder = msgspec.json.Encoder()


def encode(value: Event | Envelope) -> bytes:
    return _encoder.encode(value)


def decode_event(raw: bytes | str) -> AnyEvent:
    event: AnyEvent = _event_decoder.decode(raw)
    return event


def decode_envelope(raw: bytes | str) -> Envelope:
    return _envelope_decoder.decode(raw)


def event_from_builtins(value: Any) -> AnyEvent:
    """From JSON-shaped Python data (a JSONB column) to the typed event."""
    event: AnyEvent = msgspec.convert(value, AnyEvent)
    return event


def event_to_builtins(event: Event) -> dict[str, Any]:
    result: dict[str, Any] = msgspec.to_builtins(event)
    return result
