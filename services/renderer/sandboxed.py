"""`render` in a killable child process, for the renderer service to call instead of a thread.

A thread cannot be stopped: a render past its deadline, or of a job cancelled meanwhile, would
run to its end, and a crash in FFmpeg or x264 would take the service down with every job it
holds. In a child, cancelling the call kills the render at once (the handler's deadline and a
job's cancellation both cancel it), and a crash is the child's alone — reported as `Crashed`, which
the service runtime counts against `max_crashes`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from adpipe.sandbox import (
    ChildCrashed,
    ChildLimits,
    ChildOutOfMemory,
    ChildOutOfTime,
    ChildRaised,
    Reporter,
    Sandbox,
)
from adpipe.worker import Crashed

from .engine import RenderFailed, render

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from adpipe.settings import Settings

    from .engine import RenderAsset, RenderResult, RenderSpec

# The engine reports every frame; a few reports a second are all a progress bar needs.
REPORT_SECONDS = 0.25


def render_limits(settings: Settings) -> ChildLimits:
    """Memory from settings; time is the handler's deadline, which kills the child with it."""
    return ChildLimits(memory_bytes=settings.render_memory_bytes)


def render_sandbox(settings: Settings) -> Sandbox:
    """Children for the renderer service: one is kept started with the engine imported, so a
    render begins with its first frame instead of an interpreter start and PyAV's, Pillow's and
    numpy's imports (~0.4 s on the 2-core target, ~8% of a 30 s ad at 720p)."""
    return Sandbox(render_limits(settings), name="rendering", preload=(__name__,), keep_spare=True)


async def render_in_child(
    spec: RenderSpec,
    assets: Mapping[str, RenderAsset],
    out_path: str | Path,
    *,
    limits: ChildLimits,
    on_progress: Callable[[int, int], None] | None = None,
    sandbox: Sandbox | None = None,
) -> RenderResult:
    """`render(spec, assets, out_path)` in a child within `limits`.

    `on_progress(done, total)` is called on the event loop a few times a second and last with
    `(total, total)`. `sandbox` runs it (its own limits apply), else a child within `limits`.
    Raises RenderFailed (the engine's, or a limit's) or Crashed; cancelling
    the call kills the child. On any failure no partial output file is left behind.
    """
    out = Path(out_path)

    def progress(value: object) -> None:
        if on_progress is not None and isinstance(value, tuple):
            on_progress(*value)

    try:
        return await (sandbox or Sandbox(limits, name="rendering")).run_reporting(
            progress, _render, spec, dict(assets), str(out)
        )
    except ChildRaised as exc:
        if isinstance(exc.original, RenderFailed):
            raise exc.original from None
        raise RenderFailed(exc.detail) from exc
    except (ChildOutOfMemory, ChildOutOfTime) as exc:
        raise RenderFailed(exc.detail) from exc
    except ChildCrashed as exc:
        raise Crashed(exc.detail) from exc
    finally:
        # A finished render renamed its partial file; a killed one left it behind.
        _remove_partials(out)


def _render(
    report: Reporter, spec: RenderSpec, assets: dict[str, RenderAsset], out_path: str
) -> RenderResult:
    """The child's side: the engine, its per-frame progress thinned out to `report`, plus the
    frame that reaches the first whole percent: the service publishes no 0%, so waiting out
    `REPORT_SECONDS` after the first frame held the job's first progress back by that much."""
    last = 0.0
    stepped = False

    def on_progress(done: int, total: int) -> None:
        nonlocal last, stepped
        now = time.monotonic()
        first_step = not stepped and done * 100 >= total
        if done == total or now - last >= REPORT_SECONDS or first_step:
            stepped = stepped or first_step
            last = now
            report((done, total))

    try:
        return render(spec, assets, out_path, on_progress=on_progress)
    except RenderFailed as exc:
        if _caused_by_memory(exc):
            # The engine words a failed allocation as an unreadable asset; the limit is the cause.
            raise MemoryError(exc.detail) from exc
        raise


def _caused_by_memory(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MemoryError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _remove_partials(out: Path) -> None:
    """A killed child cannot clean up: its temporary output (see `render`) is removed here."""
    for partial in out.parent.glob(f".{out.name}.*.partial"):
        partial.unlink(missing_ok=True)
