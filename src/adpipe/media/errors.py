"""Why a file was refused: it is not what it claims, it is corrupt, or it is over a limit."""

from __future__ import annotations

from adpipe.errors import AdpipeError


class InvalidMedia(AdpipeError, ValueError):
    """The bytes are not a supported file of the declared type, are corrupt or truncated, or
    exceed a limit (pixels, frames, duration, or the memory and time their decoding took).

    The detail reads after "the upload was refused:" or "the asset at <url> was refused:".
    """

    status_code = 422
    title = "Invalid media"


class DecoderCrashed(InvalidMedia):
    """Decoding the file crashed the native decoder (its child process died by `signal`).

    Usually the file is crafted or corrupt in a way the decoder does not survive; a SIGKILL may
    also be the kernel's OOM killer on a busy machine, so services count it as a crash of their
    work (retried a bounded number of times) rather than refuse the file outright.
    """

    def __init__(self, detail: str, signal: int | None = None) -> None:
        super().__init__(detail)
        self.signal = signal
