"""The relay's part in a trace: one producer span per published event, a child of the span that
appended it, whose context goes out in the message's `traceparent` header."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import tracing
from .metrics import RELAY_PUBLISHED

if TYPE_CHECKING:
    from adpipe.events.catalogue import Envelope

R = TypeVar("R", bound=Any)


def observed_publish(
    publish: Callable[[R, Envelope], Awaitable[None]],
) -> Callable[[R, Envelope], Awaitable[None]]:
    """Wraps `Relay._publish(self, envelope)`: a span around it, a count once JetStream acked."""

    @functools.wraps(publish)
    async def wrapper(relay: R, envelope: Envelope) -> None:
        with tracing.span(
            f"publish {envelope.type}",
            kind="producer",
            parent=envelope.metadata.traceparent,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": envelope.subject,
                "messaging.message.id": envelope.id,
                "adpipe.position": envelope.position,
            },
        ):
            await publish(relay, envelope)
        RELAY_PUBLISHED.inc()

    return wrapper
