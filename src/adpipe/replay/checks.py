"""What `verify` compares: every read model, each through a checker its projection may supply.

A projection that wants its own comparison defines `checker(self) -> Checker`; otherwise it is
rebuilt into a shadow schema and diffed row by row against the live tables (columns it lists in
`verify_ignore_columns` are left out, for values that are not a function of the log).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import TYPE_CHECKING, Any, Protocol

from adpipe.projector import Projection

from .shadow import Shadow

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from adpipe.storage.eventstore import EventStore

    from .chain import Problem
    from .shadow import Progress


class Checker(Protocol):
    name: str

    async def check(
        self, pool: AsyncConnectionPool[Any], store: EventStore, progress: Progress | None
    ) -> list[Problem]: ...


class ShadowChecker:
    """Rebuilds the projection beside the live tables and diffs them in one snapshot."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.name = projection.name
        # The log position the read model was compared at (its checkpoint then).
        self.position: int | None = None

    async def check(
        self, pool: AsyncConnectionPool[Any], store: EventStore, progress: Progress | None
    ) -> list[Problem]:
        ignore: tuple[str, ...] = getattr(self.projection, "verify_ignore_columns", ())
        async with Shadow(pool, store, self.projection, progress=progress).opened() as shadow:
            problems = await shadow.diff(ignore)
            self.position = shadow.position
            return problems


def checker_for(projection: Projection) -> Checker:
    own = getattr(projection, "checker", None)
    if callable(own):
        checker: Checker = own()
        return checker
    return ShadowChecker(projection)


def discover_projections() -> list[Projection]:
    """The registry's projections, plus any other concrete one defined in adpipe.projections."""
    import adpipe.projections as package
    from adpipe.projections.registry import all_projections

    found: dict[str, Projection] = {p.name: p for p in all_projections()}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, Projection)
                and value.__module__ == module.__name__
                and not inspect.isabstract(value)
                and getattr(value, "name", None)
                and value.name not in found
            ):
                found[value.name] = value()
    return list(found.values())


def select(projections: list[Projection], names: list[str]) -> list[Projection]:
    """The named projections (all when `names` is empty); unknown names raise LookupError."""
    if not names:
        return projections
    by_name = {p.name: p for p in projections}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise LookupError(
            f"unknown read model {', '.join(unknown)}; known: {', '.join(sorted(by_name))}"
        )
    return [by_name[n] for n in names]
