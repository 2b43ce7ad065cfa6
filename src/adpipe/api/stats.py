"""Client and campaign stats from the jobs and assets read models."""

from __future__ import annotations

from typing import Any, get_args

from adpipe.domain.job import Status


def summarize(rows: list[dict[str, Any]], assets: int, currency: str) -> dict[str, Any]:
    """The shared fields of ClientStats and CampaignStats; every status appears, zero or not."""
    by_status = dict.fromkeys(get_args(Status), 0)
    seconds = cost = 0.0
    for row in rows:
        by_status[row["status"]] = int(row["jobs"])
        seconds += float(row["seconds"])
        cost += float(row["cost"])
    return {
        "jobs_by_status": by_status,
        "total_jobs": sum(by_status.values()),
        "completed_videos": by_status["completed"],
        "total_seconds_rendered": round(seconds, 3),
        "total_cost": round(cost, 6),
        "currency": currency,
        "assets": assets,
    }
