"""The seed's example ad (a Smart Watch) that tests and benchmarks make: as the JSON body the API
takes, and as the job's `AdBasics` for tests that issue commands directly."""

from __future__ import annotations

from typing import Any

from adpipe.events.job import AdBasics

SMART_WATCH = AdBasics(
    product="Smart Watch",
    target_audience="Tech enthusiasts",
    key_message="Stay connected",
    call_to_action="Buy Now",
)


def job_body(
    client_id: str, image_url: str | None = None, *, duration: float = 6.0
) -> dict[str, Any]:
    """The seed's Smart Watch job for `client_id`: a short 720p ad, with the image at `image_url`
    as its one asset (none without it)."""
    assets = [{"url": image_url, "type": "image", "name": "Product"}] if image_url else []
    return {
        "context": {"clientId": client_id},
        "adBasics": {
            "product": "Smart Watch",
            "targetAudience": "Tech enthusiasts",
            "keyMessage": "Stay connected",
            "callToAction": "Buy Now",
        },
        "creative": {
            "direction": {"style": "Modern", "tone": "Energetic"},
            "assets": assets,
            "durationSeconds": duration,
            "aspectRatio": "16:9",
            "resolution": "720p",
        },
    }
