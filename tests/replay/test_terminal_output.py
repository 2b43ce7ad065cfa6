"""`adpipe replay` shows user text with its control characters escaped: no ANSI escapes reach the
auditor's terminal, and a newline in feedback cannot fake a row of the timeline."""

from __future__ import annotations

import uuid

from adpipe.context import Core
from adpipe.events.job import SceneRegenerationRequested
from adpipe.terminal import printable
from replay.kit import Replay
from webhooks.jobkit import append_each, lifecycle

HOSTILE = (
    "\x1b[2J\x1b]0;pwned\x07Calmer\n2026-01-01 00:00:00.000         1  admin  job.approved\u202e"
)


def test_printable_escapes_controls_and_bidi_and_keeps_the_rest() -> None:
    assert printable("Smart Watch — 智能手表 ✓") == "Smart Watch — 智能手表 ✓"
    assert printable("a\x1b[31mb\nc\td\x7f\x9b\u202e") == "a\\x1b[31mb\\nc\\td\\x7f\\x9b\\u202e"


async def test_replay_job_escapes_control_characters_in_user_text(
    core: Core, replay: Replay
) -> None:
    job = str(uuid.uuid4())
    events = lifecycle(job, "mallory")
    events[2] = SceneRegenerationRequested(scene_number=2, feedback=HOSTILE)
    await append_each(core.store, job, events, actor="user:mallory")
    code, out, _ = await replay("job", job)
    assert code == 0
    assert not any(ord(c) < 0x20 and c != "\n" for c in out)
    assert "\x7f" not in out and "\u202e" not in out
    assert len(out.splitlines()) == 1 + len(events)  # no forged row
    assert "\\x1b[2J" in out

    code, out, _ = await replay("job", job, "--at", "999999999")
    assert code == 0 and "\x1b" not in out


def test_human_log_lines_escape_control_characters() -> None:
    import io
    import logging

    from adpipe.observability.logs import configure_logging

    out = io.StringIO()
    handler = configure_logging(log_format="text", role="api", stream=out)
    try:
        logging.getLogger("adpipe.test").warning("could not fetch %s", "x\x1b[2Jy\nfake line")
    finally:
        logging.getLogger().removeHandler(handler)
    text = out.getvalue()
    assert "\x1b" not in text and "x\\x1b[2Jy\\nfake line" in text
    assert text.count("\n") == 1
