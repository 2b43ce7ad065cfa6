"""Log lines every role writes: human text by default, one JSON object per line on request.

`ADPIPE_LOG_FORMAT=json` gives `time, level, role, logger, message` and, wherever they apply,
`requestId, jobId, eventId, userId` (and `traceId, spanId` while a span is open), so one grep for
a job id follows it through the API, the relay and every service. Text keeps the same ids as
`key=value` at the end of the line.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec

from adpipe.terminal import printable

from . import correlation, tracing

_HANDLER_NAME = "adpipe"
_encoder = msgspec.json.Encoder()


class CorrelationFilter(logging.Filter):
    """Copies the current role and ids into each record (as `record.adpipe`), where the
    formatters find them. A filter on the handler, so records of every library get them too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "adpipe"):
            fields: dict[str, str] = {"role": correlation.current_role(), **correlation.current()}
            fields.update(tracing.log_ids())
            record.adpipe = fields
        return True


def _fields(record: logging.LogRecord) -> dict[str, str]:
    fields: dict[str, str] = getattr(record, "adpipe", {})
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = dict(_fields(record))
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "role": fields.pop("role", correlation.current_role()),
            "logger": record.name,
            "message": record.getMessage(),
            **fields,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return _encoder.encode(line).decode()


class TextFormatter(logging.Formatter):
    """`2026-01-01 12:00:00,000 INFO [planner] adpipe.worker: message jobId=… eventId=…`."""

    def format(self, record: logging.LogRecord) -> str:
        # Written out instead of through a %-style template on a copy of the record: the API's
        # access line goes through here once per request, and the copy was most of its cost.
        fields = dict(_fields(record))
        role = fields.pop("role", correlation.current_role())
        fields.pop("spanId", None)  # the trace id is enough to find the trace; keep lines short
        ids = "".join(f" {k}={v}" for k, v in fields.items())
        # Messages carry user text (names, URLs, feedback): on a terminal its control characters
        # are shown escaped, never obeyed. The JSON format escapes them by itself.
        message = printable(record.getMessage())
        line = (
            f"{self.formatTime(record)} {record.levelname} [{role}] {record.name}: {message}{ids}"
        )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


def configure_logging(
    *,
    log_format: str = "text",
    role: str | None = None,
    verbose: bool = False,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Replaces the root logger's adpipe handler (idempotent) and answers the new one."""
    if role is not None:
        correlation.set_process_role(role)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return handler
