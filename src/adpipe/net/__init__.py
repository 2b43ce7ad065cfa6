"""Reaching outside URLs safely: the SSRF guard every fetch and webhook delivery goes through,
and the one error type for a URL that could not be fetched."""

from __future__ import annotations

from adpipe.net.errors import DownloadError, UrlRefused
from adpipe.net.guard import Resolver, SystemResolver, UrlGuard, address_class

__all__ = ["DownloadError", "Resolver", "SystemResolver", "UrlGuard", "UrlRefused", "address_class"]
