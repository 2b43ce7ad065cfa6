"""The parts without a stack: reading settings, formatting log lines, choosing metrics ports."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import urllib.request

import msgspec
import pytest

from adpipe.errors import ValidationFailed
from adpipe.observability import correlation
from adpipe.observability.logs import configure_logging
from adpipe.observability.serve import REPLICA_STRIDE, role_port, start_metrics_server
from adpipe.runtime.ports import port_is_free
from adpipe.settings import Settings, load_settings, otlp_traces_endpoint


def test_the_otlp_endpoint_follows_the_standard_variables() -> None:
    assert otlp_traces_endpoint({}) is None
    base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318/"}
    assert otlp_traces_endpoint(base) == "http://127.0.0.1:4318/v1/traces"
    traces = {**base, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/t"}
    assert otlp_traces_endpoint(traces) == "http://127.0.0.1:9/t"
    assert otlp_traces_endpoint({**base, "OTEL_SDK_DISABLED": "true"}) is None
    assert otlp_traces_endpoint({**base, "OTEL_TRACES_EXPORTER": "none"}) is None


def test_log_format_and_metrics_port_are_read_and_checked() -> None:
    settings = load_settings({"ADPIPE_LOG_FORMAT": "JSON", "ADPIPE_METRICS_PORT": "9464"})
    assert (settings.log_format, settings.metrics_port) == ("json", 9464)
    default = load_settings({})
    assert (default.log_format, default.metrics_port, default.metrics_host) == (
        "text",
        None,
        "127.0.0.1",
    )
    assert load_settings({"ADPIPE_METRICS_PORT": "off"}).metrics_port is None
    with pytest.raises(ValidationFailed, match="ADPIPE_LOG_FORMAT"):
        load_settings({"ADPIPE_LOG_FORMAT": "xml"})
    with pytest.raises(ValidationFailed, match="ADPIPE_METRICS_PORT"):
        load_settings({"ADPIPE_METRICS_PORT": "lots"})


def _capture(log_format: str) -> tuple[io.StringIO, logging.Handler]:
    out = io.StringIO()
    return out, configure_logging(log_format=log_format, role="unit", stream=out)


async def test_a_line_carries_the_ids_bound_in_its_task_only() -> None:
    out, handler = _capture("json")
    log = logging.getLogger("adpipe.test")

    async def request() -> None:
        correlation.bind(role_name="api", request="r1", job="j1", user="alice")
        log.info("inside %s", "the request")

    try:
        await asyncio.create_task(request())
        log.warning("outside")
    finally:
        logging.getLogger().removeHandler(handler)
    inside, outside = (json.loads(line) for line in out.getvalue().splitlines())
    assert inside["message"] == "inside the request" and inside["level"] == "info"
    assert (inside["role"], inside["requestId"], inside["jobId"], inside["userId"]) == (
        "api",
        "r1",
        "j1",
        "alice",
    )
    assert inside["logger"] == "adpipe.test" and inside["time"].endswith("+00:00")
    assert "jobId" not in outside and outside["level"] == "warning"


def test_text_lines_stay_readable_and_keep_the_ids() -> None:
    out, handler = _capture("text")
    try:
        correlation.job_id.set("j9")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("adpipe.test").exception("it failed")
    finally:
        correlation.job_id.set(None)
        logging.getLogger().removeHandler(handler)
    first, *rest = out.getvalue().splitlines()
    assert first.endswith("ERROR [unit] adpipe.test: it failed jobId=j9"), first
    assert any("RuntimeError: boom" in line for line in rest)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def test_each_role_has_its_port_and_a_second_replica_takes_the_next_stride() -> None:
    base = next(
        port
        for port in range(20_000, 60_000, 97)
        if port_is_free(port + 3) and port_is_free(port + 3 + REPLICA_STRIDE)
    )
    assert [role_port(9464, r) for r in ("relay", "projector", "planner")] == [9464, 9465, 9467]
    settings = msgspec.structs.replace(Settings(), metrics_port=base)
    first = start_metrics_server(settings, "planner")
    second = start_metrics_server(settings, "planner")
    assert first is not None and second is not None
    try:
        assert first.port == base + 3
        assert second.port == base + 3 + REPLICA_STRIDE
        assert "adpipe_events_appended_total" in _get(second.url)
    finally:
        first.close()
        second.close()
    assert start_metrics_server(Settings(), "planner") is None  # off unless configured
