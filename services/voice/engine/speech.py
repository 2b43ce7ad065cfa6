"""What a voice engine delivers (`Speech`), how it fails (`TTSFailed`) and the port every engine
implements (`Synthesizer`)."""

from __future__ import annotations

from typing import Protocol

import msgspec

from adpipe.errors import AdpipeError
from adpipe.events.narration import WordTiming


class Speech(msgspec.Struct, frozen=True, kw_only=True):
    """One synthesized narration: an encoded audio file a browser plays as it is, its length,
    and when each of the script's words (split at whitespace, punctuation kept) is spoken."""

    audio: bytes
    content_type: str
    duration_seconds: float
    words: list[WordTiming]
    characters: int
    cost: float
    engine: str
    voice: str
    speed: float


class TTSFailed(AdpipeError):
    """Speech could not be made. `transient`: the same request may work later (a provider's 429,
    5xx or timeout); otherwise retrying is pointless (a bad voice, an engine crash, an answer that
    is not audio). `code` names the failure for events and logs; `retry_after` is the provider's
    hint in seconds, when it gave one."""

    title = "Speech synthesis failed"

    def __init__(
        self, detail: str, *, code: str, transient: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(detail, code=code, transient=transient)
        self.code = code
        self.transient = transient
        self.retry_after = retry_after


class Synthesizer(Protocol):
    """Speaks `text` with `voice` at `speed` (1.0 is the voice's normal pace)."""

    async def synthesize(self, text: str, *, voice: str, speed: float) -> Speech: ...
