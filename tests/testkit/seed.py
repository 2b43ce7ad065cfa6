"""The seed's example ad (a Smart Watch) that tests and benchmarks make: as the JSON body the API
takes, and as the job's `AdBasics` for tests that issue commands directly."""

from __future__ import annotations

from typing import Any

import msgspec

from adpipe.events.job import AdBasics

SMART_WATCH = AdBasics(
    product="Smart Watch",
    target_audience="Tech enthusiasts",
    key_message="Stay connected",
    call_to_action="Buy Now",
)


def seed_body(client_id: str, **creative: Any) -> dict[str, Any]:
    """The seed's Smart Watch job for `client_id`, as the JSON body the API takes; `creative`
    sets the creative's fields (assets, duration, ...) beside the seed's direction."""
    return {
        "context": {"clientId": client_id},
        "adBasics": msgspec.to_builtins(SMART_WATCH),
        "creative": {
            "direction": {"style": "Modern", "tone": "Energetic"},
            "assets": [],
            **creative,
        },
    }


def job_body(
    client_id: str, image_url: str | None = None, *, duration: float = 6.0
) -> dict[str, Any]:
    """The seed's Smart Watch job for `client_id`: a short 720p ad, with the image at `image_url`
    as its one asset (none without it)."""
    assets = [{"url": image_url, "type": "image", "name": "Product"}] if image_url else []
    return seed_body(
        client_id,
        assets=assets,
        durationSeconds=duration,
        aspectRatio="16:9",
        resolution="720p",
    )
