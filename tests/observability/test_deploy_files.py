"""deploy/: the Grafana dashboard parses and asks only for series adpipe exports; the Prometheus
config scrapes the ports the roles really serve on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric

from adpipe.observability.collectors import JETSTREAM, LOG_LAG
from adpipe.observability.serve import role_port
from adpipe.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "adpipe-dashboard.json"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
# Series Prometheus itself writes for every target.
SYNTHETIC = {"up"}
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("_count", "_sum", ""),
    "info": ("_info",),
}


def exported_names() -> set[str]:
    """Every sample name this process can export, whether or not a series exists yet."""
    families: list[Metric] = [*REGISTRY.collect(), *LOG_LAG.describe(), *JETSTREAM.describe()]
    names = set()
    for family in families:
        for suffix in _SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads: identifiers that are not functions, once
    label matchers, ranges and grouping clauses are removed."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", expr)
    return set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()", bare))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return [p for p in found if p.get("type") != "row"]


def test_the_dashboard_reads_only_series_adpipe_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_names() | SYNTHETIC
    used: set[str] = set()
    for panel in panels(dashboard):
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, target["expr"]
            assert names <= exported, f"{panel['title']}: {sorted(names - exported)}"
            used |= names
    # The dashboard answers the questions it exists for.
    for name in (
        "adpipe_http_requests_total",
        "adpipe_relay_lag_events",
        "adpipe_projection_lag_events",
        "adpipe_jetstream_consumer_pending_messages",
        "adpipe_job_stage_duration_seconds_bucket",
        "adpipe_render_realtime_ratio_bucket",
        "adpipe_llm_cost_usd_total",
        "adpipe_tts_cost_usd_total",
        "adpipe_webhook_deliveries_total",
        "adpipe_limit_rejections_total",
    ):
        assert name in used, name


def test_the_name_extraction_sees_through_promql() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, route) (rate(adpipe_x_bucket{a="b"}[5m]))) / up'
    assert metric_names(expr) == {"adpipe_x_bucket", "up"}


def test_the_prometheus_config_scrapes_the_api_and_every_worker_port() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    targets: dict[str, str] = {}
    for job in config["scrape_configs"]:
        assert job["job_name"].startswith("adpipe")
        for static in job["static_configs"]:
            for target in static["targets"]:
                targets[static["labels"]["role"]] = target
    assert targets.pop("api") == f"127.0.0.1:{Settings().port}"
    assert targets == {
        role: f"127.0.0.1:{role_port(9464, role)}"
        for role in ("relay", "projector", "downloader", "planner", "renderer", "webhooks")
    }
