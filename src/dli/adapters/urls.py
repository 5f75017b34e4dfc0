"""URL helpers shared by the HTTP adapters: what a message may show of a URL, and path segments."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["display_url", "path_segment"]


def display_url(url: str) -> str:
    """``url`` without credentials, query or fragment, for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if not netloc:
        return f"{parts.scheme}://{parts.path}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def path_segment(value: str) -> str:
    """``value`` as one URL path segment: '/', '@', ':', '+' and the rest percent-encoded."""
    return quote(value, safe="")
