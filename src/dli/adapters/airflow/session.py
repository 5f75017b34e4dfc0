"""An authenticated HTTP session with Airflow 3's REST API (httpx): JWT from ``/auth/token``,
renewed before it expires and once when Airflow rejects it; every request with a timeout; failures
as ``ServerError`` (DLI-503) naming Airflow's URL, never the credentials."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from dli.domain.model.errors import ConfigurationError, DLIError, ServerError

__all__ = ["AirflowSession", "error_detail", "segment"]

_TOKEN_MARGIN_SECONDS = 300


def _display_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def segment(value: str) -> str:
    return quote(value, safe="")


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verification (only to refresh it in time)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    detail = body.get("detail") if isinstance(body, Mapping) else body
    if isinstance(detail, list):  # FastAPI validation errors
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, Mapping) else str(d) for d in detail)
    elif isinstance(detail, Mapping):
        detail = detail.get("reason") or json.dumps(detail)[:300]
    return str(detail)[:500]


class AirflowSession:
    """Requests to one Airflow API server, as one user."""

    def __init__(
        self,
        *,
        base_url: str,
        username: str | None,
        password: str | None,
        timeout_seconds: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = base_url.rstrip("/")
        self.display = _display_url(self._url)
        """Airflow's URL without credentials, for messages."""
        self._username = username
        self._password = password
        self._timeout = timeout_seconds
        self._client = httpx.Client(base_url=self._url, timeout=httpx.Timeout(timeout_seconds), transport=transport)
        self._token: str | None = None
        self._token_expiry = 0.0
        self._token_lock = threading.Lock()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _fetch_token(self) -> str:
        if not self._username or not self._password:
            raise ConfigurationError(
                f"No credentials for Airflow at {self.display}",
                hints=("Set DLI_AIRFLOW_USERNAME and DLI_AIRFLOW_PASSWORD.",),
            )
        response = self._send("POST", "/auth/token", json={"username": self._username, "password": self._password})
        if response.status_code in (401, 403):
            raise ServerError(
                f"Airflow at {self.display} refused dli's credentials ({error_detail(response)})",
                hints=("Check DLI_AIRFLOW_USERNAME / DLI_AIRFLOW_PASSWORD.",),
            )
        if response.status_code not in (200, 201):
            raise self.error(response, "log in")
        token = str(response.json()["access_token"])
        self._token = token
        self._token_expiry = _jwt_expiry(token) or (time.time() + 3600)
        return token

    def _current_token(self, *, refresh: bool = False) -> str:
        with self._token_lock:
            if refresh or self._token is None or time.time() > self._token_expiry - _TOKEN_MARGIN_SECONDS:
                return self._fetch_token()
            return self._token

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ServerError(
                f"Airflow at {self.display} did not answer within {self._timeout:g}s",
                details={"orchestrator": self.display},
            ) from None
        except httpx.HTTPError as exc:
            raise ServerError(
                f"Airflow at {self.display} is unreachable ({type(exc).__name__})",
                hints=("Check that the Airflow API server is running and DLI_AIRFLOW_URL is right.",),
                details={"orchestrator": self.display},
            ) from None

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One authenticated request; a rejected token is renewed once."""
        token = self._current_token()
        response = self._send(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if response.status_code == 401 or (response.status_code == 403 and "Invalid JWT" in response.text):
            token = self._current_token(refresh=True)
            response = self._send(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        return response

    def error(self, response: httpx.Response, action: str) -> DLIError:
        return ServerError(
            f"Airflow at {self.display} failed to {action}: HTTP {response.status_code}: {error_detail(response)}",
            details={"orchestrator": self.display, "status": response.status_code},
        )

    def json(self, method: str, path: str, action: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if response.status_code not in (200, 201):
            raise self.error(response, action)
        return response.json()

