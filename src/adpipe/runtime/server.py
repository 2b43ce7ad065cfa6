"""What the servers this process runs for itself (Postgres, NATS, a NATS cluster) have in common:
`start()` answers the URL to reach it, `stop()` ends it, and a `with` block does both."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from types import TracebackType


class EmbeddedServer(ABC):
    @abstractmethod
    def start(self) -> str:
        """Starts the server (or adopts one left running) and answers its URL."""

    @abstractmethod
    def stop(self) -> None:
        """Stops the server; stopping one that is not running does nothing."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
