"""The tunables of one download: timeouts, redirects, size caps and retries.

What the file may then cost to decode is `adpipe.media.MediaLimits`."""

from __future__ import annotations

import msgspec

MB = 1024 * 1024


def _default_max_bytes() -> dict[str, int]:
    # Generous for real ad material (a 4K clip of a minute is well under 1 GB), small enough that
    # one hostile URL cannot fill the disk or the blob store.
    return {"image": 50 * MB, "video": 1024 * MB, "audio": 200 * MB}


class DownloadLimits(msgspec.Struct, frozen=True, kw_only=True):
    # Seconds to open the TCP (and TLS) connection to one address.
    connect_timeout: float = 10.0
    # Longest silence allowed between two chunks of the body; catches stalled servers early.
    read_timeout: float = 30.0
    # Wall-clock bound on the whole download, retries and back-off included, so a slow drip that
    # never trips read_timeout still ends.
    total_timeout: float = 600.0
    # Every hop is followed by hand and checked by the URL guard; more than this is refused.
    max_redirects: int = 5
    # Largest body accepted per declared asset type; the body is cut off one byte past it.
    max_bytes: dict[str, int] = msgspec.field(default_factory=_default_max_bytes)
    # Extra attempts after a transient failure (timeout, reset, 5xx, 429).
    retries: int = 3
    # Back-off before retry n is about retry_base_delay * 2**n (with jitter).
    retry_base_delay: float = 1.0
    # A Retry-After longer than this is not waited out here: the error goes back (transient, with
    # retry_after cut to this) so the service defers the message by at most this, instead of
    # holding a worker or obeying a remote that asks for a day (settings.download_max_retry_after).
    max_retry_after: float = 60.0
    # Body read size: bounded memory per download, few enough syscalls for a 1 GB video.
    chunk_size: int = 256 * 1024

    def max_bytes_for(self, asset_type: str) -> int:
        try:
            return self.max_bytes[asset_type]
        except KeyError:
            raise ValueError(f"unknown asset type {asset_type!r}") from None
