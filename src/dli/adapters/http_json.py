"""One GET of a JSON document, for the adapters that read a provider's published documents (OIDC
discovery, JWKS): a transport failure, an error status or a body that is not JSON all raise the
caller's own error, so each adapter keeps its DLI code and hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["get_json"]


def get_json(http: httpx.Client, url: str, *, unreadable: Callable[[str], Exception]) -> Any:
    """The JSON body of ``GET url``.

    Raises:
        Exception: ``unreadable(reason)`` (the exception's class name) when the request fails, the
            answer is not 2xx, or its body is not JSON; what the JSON is, the caller checks.
    """
    try:
        response = http.get(url)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise unreadable(type(exc).__name__) from None
