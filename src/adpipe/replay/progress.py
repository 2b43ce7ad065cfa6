"""A progress bar on stderr: redrawn in place on a terminal, a line every 10 % otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, total: int, stream: TextIO | None = None, width: int = 30):
        self.label = label
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.width = width
        self._tty = self.stream.isatty()
        self._last_draw = 0.0
        self._last_tenth = -1
        self._done = 0

    def __call__(self, done: int) -> None:
        self._done = done
        fraction = min(done / self.total, 1.0)
        if self._tty:
            now = time.monotonic()
            if now - self._last_draw < 0.1 and done < self.total:
                return
            self._last_draw = now
            filled = int(fraction * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%} {done:,}/{self.total:,}")
            self.stream.flush()
            return
        tenth = int(fraction * 10)
        if tenth > self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(f"{self.label}: {fraction:.0%} ({done:,}/{self.total:,})\n")
            self.stream.flush()

    def close(self) -> None:
        if self._tty:
            self._last_draw = 0.0
            self(self._done)
            self.stream.write("\n")
            self.stream.flush()
