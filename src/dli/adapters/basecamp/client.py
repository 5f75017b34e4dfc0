"""The Basecamp HTTP client: the message bus over the server's REST API (SERVER mode).

``handle(message)`` sends the request its message's route describes (``operations.operation_for``), so a new operation needs
no code here.

One pooled ``httpx.Client`` per instance. Retries follow ``dli.adapters.http_retry``: only where
repeating cannot do anything twice (a connection never made, for any request; a GET after another
transport failure or a proxy's 502/503/504; never a timed-out read, nor Basecamp's own error answer:
a 503 naming a hung dependency came after that dependency's timeout, and asking again would
multiply the wait). Error bodies come back as the same DLI
exceptions the in-process use-cases raise. The token is sent in a header and never appears in
``repr``, messages or logs.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import tenacity

from dli.adapters.basecamp.operations import operation_for
from dli.adapters.codecs.results import from_jsonable
from dli.adapters.http_retry import RetryPolicy, send_with_retries
from dli.adapters.tracing import Tracer
from dli.adapters.urls import display_url
from dli.domain.model.errors import (
    AuthenticationError,
    DLIError,
    ServerError,
    ServerUnreachableError,
    error_for_code,
)
from dli.domain.usecases.message import Message, result_type

__all__ = ["BasecampClient"]

T = TypeVar("T")


def _user_agent() -> str:
    try:
        return f"dli/{importlib.metadata.version('dli')}"
    except importlib.metadata.PackageNotFoundError:
        return "dli"


def _is_dli_error(response: httpx.Response) -> bool:
    """Whether the answer is Basecamp's own error body (a proxy's 502/503/504 is not): final."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return False
    return isinstance(error, dict) and isinstance(error.get("code"), str)


_MAX_RETRY_AFTER = 5.0  # seconds: a longer Retry-After is the caller's to decide on


def _refused_for_now(response: httpx.Response) -> float | None:
    """Seconds to wait before repeating a request the server refused without working on it, else None."""
    if response.status_code != 503:
        return None
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


class BasecampClient:
    """Carries out messages by calling a Basecamp server (``Handles``, like the in-process bus)."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None = None,
        timeout_seconds: float = 30.0,
        retries: int = 2,
        backoff_seconds: float = 0.25,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = display_url(base_url)
        headers = {"Accept": "application/json", "User-Agent": _user_agent()}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._has_token = bool(token)
        self._policy = RetryPolicy(attempts=max(0, retries) + 1, first_wait_seconds=backoff_seconds)
        self._sleep = sleep
        self._tracer = Tracer()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"BasecampClient(base_url={self._url!r})"

    @property
    def base_url(self) -> str:
        """The server (no credentials)."""
        return self._url

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> BasecampClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the bus, over HTTP ---------------------------------------------------------------------

    def handle(self, message: Message[T]) -> T:
        """Send ``message`` to the server as its operation's request; the result, or its DLI error."""
        operation = operation_for(message)
        path, params, body = operation.encode(message)
        kwargs: dict[str, Any] = {}
        if params is not None:
            kwargs["params"] = params
        if body is not None:
            kwargs["json"] = body
        # W3C trace context: the server's spans and log lines of this request carry the trace id.
        with self._tracer.client_request(type(message).__name__) as trace_headers:
            return self._request(operation.method, path, result_type(type(message)), headers=trace_headers, **kwargs)

    # -- transport -----------------------------------------------------------------------------

    def _request(self, method: str, path: str, cls: type[T], **kwargs: Any) -> T:
        response = self._send(method, path, **kwargs)
        if response.is_success:
            try:
                data = response.json()
            except ValueError:
                raise ServerError(
                    f"Basecamp server at {self._url} answered {response.status_code} with a body that is not JSON"
                ) from None
            return from_jsonable(data, cls)
        raise self._error(response)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        def attempt() -> httpx.Response:
            try:
                return send_with_retries(
                    lambda: self._http.request(method, path, **kwargs),
                    method=method,
                    policy=self._policy,
                    final=_is_dli_error,
                    sleep=self._sleep,
                )
            except httpx.TransportError as exc:
                raise self._unreachable(exc) from None

        # A busy refusal (503 with Retry-After) was not worked on: safe to repeat for any method,
        # after the wait the server asked for. Giving up returns the last refusal, reported as any 503.
        busy = tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda response: _refused_for_now(response) is not None),
            wait=lambda state: _refused_for_now(state.outcome.result()) or 0.0,  # type: ignore[union-attr]
            stop=tenacity.stop_after_attempt(max(1, self._policy.attempts)),
            sleep=self._sleep,
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        )
        return busy(attempt)

    def _unreachable(self, exc: httpx.TransportError) -> ServerUnreachableError:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            reason = "did not answer in time"
        else:
            reason = f"cannot be reached ({type(exc).__name__})"
        return ServerUnreachableError(
            f"Basecamp server at {self._url} {reason}",
            hints=(
                "Is the server running? For the local stack: dli dev status shows it, dli dev up starts it.",
                "Otherwise check the server URL (--server / DLI_SERVER_URL); "
                f"its health endpoint is {self._url}/health.",
            ),
            details={"server_url": self._url},
        )

    def _error(self, response: httpx.Response) -> DLIError:
        error: Any = None
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if response.status_code == 401:
            message = error.get("message") if isinstance(error, dict) else None
            hint = (
                "Check DLI_API_TOKEN (or the token in your config file); ask an administrator for a new one."
                if self._has_token
                else "No API token was given: set DLI_API_TOKEN (or put the token in your config file)."
            )
            return AuthenticationError(
                f"Authentication failed at {self._url}: {message or 'token not accepted'}",
                hints=(hint,),
                details={"server_url": self._url},
            )
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            hints = error.get("hints") or ()
            details = error.get("details") or {}
            return error_for_code(
                error["code"],
                str(error.get("message", "")),
                hints=tuple(str(h) for h in hints) if isinstance(hints, list) else (),
                details=details if isinstance(details, dict) else {},
            )
        return ServerError(
            f"Basecamp server at {self._url} answered HTTP {response.status_code}",
            details={"server_url": self._url, "status": response.status_code},
        )
