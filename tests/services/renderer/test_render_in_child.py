"""`render_in_child`: the engine run in a killable child — same MP4, progress reported back,
failures typed, and a cancelled render killed at once without leaving files behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from adpipe.events.scene import Scene
from adpipe.sandbox import ChildLimits
from adpipe.services.renderer import sandboxed
from adpipe.services.renderer.engine import RenderAsset, RenderFailed, RenderSpec
from adpipe.services.renderer.sandboxed import render_in_child, render_limits
from adpipe.settings import load_settings

MakeScene = Callable[..., Scene]
LIMITS = render_limits(load_settings({}))


def spec(scenes: list[Scene]) -> RenderSpec:
    return RenderSpec(scenes=scenes, resolution="720p")


async def test_a_render_in_a_child_makes_the_mp4_and_reports_progress(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    calls: list[tuple[int, int]] = []
    out = tmp_path / "ad.mp4"

    result = await render_in_child(
        spec([scene(0.5, ["red"]), scene(0.5, ["green"])]),
        assets,
        out,
        limits=LIMITS,
        on_progress=lambda done, total: calls.append((done, total)),
    )

    assert (result.frames, result.width, result.height) == (30, 1280, 720)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 30
        assert container.streams.video[0].codec_context.name == "h264"
    assert calls and calls[-1] == (30, 30)
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert list(tmp_path.iterdir()) == [out]


async def test_an_engine_failure_comes_back_as_render_failed(
    tmp_path: Path, scene: MakeScene
) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    broken = {"junk": RenderAsset(id="junk", type="image", path=str(junk))}
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    with pytest.raises(RenderFailed) as failure:
        await render_in_child(
            spec([scene(1.0, ["junk"])]), broken, out_dir / "ad.mp4", limits=LIMITS
        )

    assert "image asset junk" in failure.value.detail
    assert list(out_dir.iterdir()) == []


async def test_a_render_past_its_memory_limit_fails_saying_so(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    with pytest.raises(RenderFailed, match="rendering needed more memory than its limit"):
        await render_in_child(
            spec([scene(1.0, ["red"])]),
            assets,
            tmp_path / "ad.mp4",
            limits=ChildLimits(memory_bytes=200 * 2**20),
        )
    assert list(tmp_path.iterdir()) == []


async def test_cancelling_a_render_kills_it_at_once_and_leaves_no_file(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    calls: list[tuple[int, int]] = []
    render = asyncio.create_task(
        render_in_child(
            spec([scene(60.0, ["green"])]),  # minutes of work on two cores
            assets,
            tmp_path / "ad.mp4",
            limits=LIMITS,
            on_progress=lambda done, total: calls.append((done, total)),
        )
    )
    async with asyncio.timeout(60):
        while not calls:  # rendering has begun, and written some of its output  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    started = time.monotonic()
    render.cancel()
    with pytest.raises(asyncio.CancelledError):
        await render
    assert time.monotonic() - started < 5
    assert list(tmp_path.iterdir()) == []


def test_the_child_reports_the_first_whole_percent_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service publishes no 0%: the frame reaching 1% is reported when it is made, not
    after the report spacing that follows the first frame."""
    reports: list[tuple[int, int]] = []

    def engine(spec: object, assets: object, out: object, *, on_progress: Any) -> str:
        for done in range(1, 901):  # all within one REPORT_SECONDS
            on_progress(done, 900)
        return "rendered"

    monkeypatch.setattr(sandboxed, "render", engine)
    result = sandboxed._render(reports.append, spec([]), {}, "unused.mp4")

    assert result == "rendered"
    assert reports == [(1, 900), (9, 900), (900, 900)]
