"""The render queue's arithmetic and setting: positions in log order, estimates that count the
wait, and a concurrency that follows the CPUs the process may use."""

from __future__ import annotations

import os

import pytest

from adpipe.render_queue import Queued, estimate_for_newcomer, spots
from adpipe.settings import available_cpus, load_settings


def row(job_id: str, at: int, seconds: float, started: bool = False, percent: int = 0) -> Queued:
    return Queued(
        job_id=job_id, queued_at=at, video_seconds=seconds, started=started, percent=percent
    )


def test_waiting_jobs_are_ranked_from_one_and_the_wait_counts_in_their_estimate() -> None:
    queue = [
        row("a", 10, 30, started=True, percent=50),  # 15 s of video left to render
        row("b", 12, 10),
        row("c", 15, 20),
    ]
    found = spots(queue, 0.5, ["a", "b", "c", "unknown"])
    assert set(found) == {"a", "b", "c"}
    assert found["a"].position is None and found["a"].eta_seconds == 7.5
    # b waits for a's 15 s, then renders its own 10 s, at 0.5 s per second of video.
    assert found["b"].position == 1 and found["b"].eta_seconds == 12.5
    # c waits for a and b: (15 + 10) * 0.5, then 20 * 0.5.
    assert found["c"].position == 2 and found["c"].eta_seconds == 22.5


def test_the_work_ahead_is_shared_among_the_renders_running() -> None:
    queue = [
        row("a", 1, 20, started=True),
        row("b", 2, 20, started=True),
        row("c", 3, 10),
    ]
    assert spots(queue, 1.0, ["c"])["c"].eta_seconds == 40 / 2 + 10
    newcomer = estimate_for_newcomer(queue, 1.0)
    assert newcomer.wait_seconds == 50 / 2 and newcomer.eta(6) == 31.0


def test_an_empty_queue_waits_for_nothing() -> None:
    assert estimate_for_newcomer([], 0.4).eta(30) == 12.0


def test_render_concurrency_defaults_from_the_cpus_and_can_be_set() -> None:
    assert available_cpus() <= len(os.sched_getaffinity(0))
    assert load_settings({}).render_concurrency == max(1, available_cpus() // 2)
    assert load_settings({"ADPIPE_RENDER_CONCURRENCY": "3"}).render_concurrency == 3
    with pytest.raises(ValueError, match="ADPIPE_RENDER_CONCURRENCY='0'"):
        load_settings({"ADPIPE_RENDER_CONCURRENCY": "0"})
