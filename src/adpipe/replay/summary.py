"""One line per event for timelines: what happened, in words one reads at a glance."""

from __future__ import annotations

from adpipe.events import asset, job, party, webhook
from adpipe.events.base import Event


def _quoted(text: str | None, limit: int = 80) -> str:
    text = " ".join((text or "").split())
    return f'"{text[: limit - 1]}…"' if len(text) > limit else f'"{text}"'


def _feedback(text: str | None) -> str:
    return f" with feedback {_quoted(text)}" if text else ""


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def _money(value: float) -> str:
    return f"${value:.4f}".rstrip("0").rstrip(".") if value else "$0"


def summarize(event: Event) -> str:
    match event:
        case job.JobCreated(ad_basics=basics, creative=creative):
            assets = len(creative.assets)
            product, audience = _quoted(basics.product, 40), _quoted(basics.target_audience, 40)
            return (
                f"job created: {product} for {audience},"
                f" {creative.duration_seconds:g} s {creative.aspect_ratio} {creative.resolution},"
                f" {assets} asset{'s' * (assets != 1)}"
            )
        case job.AssetDownloaded():
            return (
                f"asset {event.asset_id} downloaded ({event.metadata.content_type},"
                f" {_size(event.metadata.size)})"
            )
        case job.ScenesGenerated():
            origin = {
                "initial": "storyboard generated",
                "regenerate_all": "storyboard regenerated",
                "reject": "storyboard regenerated after rejection",
            }[event.reason]
            by = f"{event.planner} planner" + (f", {event.model}" if event.model else "")
            return (
                f"{origin}: {len(event.scenes)} scenes, {event.duration_seconds:g} s ({by})"
                + _feedback(event.feedback)
            )
        case job.SceneRegenerationRequested():
            return f"scene {event.scene_number} regeneration requested" + _feedback(event.feedback)
        case job.StoryboardRegenerationRequested():
            return "regeneration of all scenes requested" + _feedback(event.feedback)
        case job.StoryboardRejected():
            return f"storyboard rejected: {_quoted(event.feedback)}"
        case job.SceneRegenerated():
            return f"scene {event.scene_number} regenerated" + _feedback(event.feedback)
        case job.SceneUpdated():
            return (
                f"scene {event.scene_number} edited (storyboard now {event.duration_seconds:g} s)"
            )
        case job.JobApproved():
            return "storyboard approved"
        case job.RenderStarted():
            on = f" on {event.worker}" if event.worker else ""
            return f"render started (attempt {event.attempt}{on})"
        case job.RenderProgress():
            eta = f", about {event.eta_seconds:.0f} s left" if event.eta_seconds else ""
            return f"render {event.percent} %{eta}"
        case job.RenderCompleted():
            return (
                f"render completed: {event.duration_seconds:g} s {event.width}x{event.height},"
                f" {_size(event.size_bytes)} in {event.render_seconds:.1f} s,"
                f" cost {_money(event.cost)}"
            )
        case job.JobFailed():
            stage = f" while {event.stage}" if event.stage else ""
            return f"failed{stage}: {event.code}: {event.message}"
        case job.JobCancelled():
            return "cancelled" + (f": {event.reason}" if event.reason else "")
        case asset.AssetRegistered():
            source = f" from {event.source_url}" if event.source_url else " (upload)"
            return f"{event.asset_type} {_quoted(event.name, 40)} registered{source}"
        case asset.AssetStored():
            return f"stored as {event.metadata.content_type}, {_size(event.metadata.size)}"
        case asset.AssetFailed():
            return f"failed: {event.code}: {event.message}"
        case party.ClientCreated() | party.ClientUpdated():
            verb = "created" if isinstance(event, party.ClientCreated) else "updated"
            return f"client {_quoted(event.profile.name, 40)} {verb}"
        case party.CampaignCreated() | party.CampaignUpdated():
            verb = "created" if isinstance(event, party.CampaignCreated) else "updated"
            return f"campaign {_quoted(event.profile.name, 40)} {verb}"
        case webhook.WebhookSubscribed() | webhook.WebhookUpdated():
            verb = "subscribed" if isinstance(event, webhook.WebhookSubscribed) else "updated"
            return f"webhook {verb}: {event.url} for {', '.join(event.events)}"
        case webhook.WebhookDisabled():
            return f"webhook disabled: {event.reason}"
    # Deletions, secret rotations, tests: the type says it all.
    return type(event).type_name().split(".", 1)[1].replace("_", " ")
