"""An authenticated HTTP session with Airflow 3's REST API (httpx).

Authentication is an ``httpx.Auth``: a JWT from ``POST /auth/token``, sent as a bearer token and
renewed once when Airflow rejects it. Every request has short connect and read timeouts and is
repeated only where repeating cannot do anything twice (``dli.adapters.http_retry``). Failures are
``ServerError`` (DLI-503) naming Airflow's URL, never the credentials.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any

import attrs
import httpx

from dli.adapters.http_retry import DEFAULT_POLICY, RetryPolicy, send_with_retries
from dli.adapters.tracing import inject_trace_context
from dli.adapters.urls import display_url, path_segment
from dli.domain.model.errors import ConfigurationError, DLIError, ServerError

__all__ = ["AirflowSession", "AirflowTokenAuth", "database_failed", "database_locked", "error_detail", "segment"]

DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 10.0


segment = path_segment


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


def database_locked(response: httpx.Response) -> bool:
    """Airflow on SQLite refused a write with 503 "database is locked": rolled back, safe to repeat."""
    return response.status_code == 503 and "locked" in response.text.lower()


def database_failed(response: httpx.Response) -> bool:
    """Airflow's database refused the write (SQLite locked past its timeout answers 500 "Database
    error"): for a request that sets a state, which is the same when sent twice, safe to repeat."""
    return database_locked(response) or (response.status_code == 500 and "database error" in response.text.lower())


def _rejected(response: httpx.Response) -> bool:
    """Whether Airflow refused the token (expired, revoked, signed with a rotated key)."""
    return response.status_code == 401 or (response.status_code == 403 and "Invalid JWT" in response.text)


class AirflowTokenAuth(httpx.Auth):
    """Bearer JWT from Airflow's ``/auth/token``, fetched when first needed and renewed once on a rejection.

    Shared by the threads of one client: one lock guards the token, and a thread that finds its
    token rejected renews it only if no other thread did so in the meantime. Threads that waited for
    a login that got no answer (a hung or unreachable Airflow) fail at once rather than each sending
    one more login in turn: a hung Airflow costs every request one timeout, not one per waiting thread.
    """

    requires_response_body = True  # a 403 tells an invalid JWT from a missing permission by its body

    def __init__(self, *, token_url: str, username: str | None, password: str | None, display: str) -> None:
        self._token_url = token_url
        self._username = username
        self._password = password
        self._display = display
        self._token: str | None = None
        self._lock = threading.Lock()
        self._login_lost_at: float | None = None  # when a login last got no answer (monotonic)

    def __repr__(self) -> str:
        return f"AirflowTokenAuth(username={self._username!r}, display={self._display!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # As httpx.Auth's, but closing the flow whatever happens: a request that fails while the
        # token is being fetched must release the lock at once, not when the flow is collected.
        flow = self.auth_flow(request)
        try:
            sent = next(flow)
            while True:
                response = yield sent
                response.read()
                try:
                    sent = flow.send(response)
                except StopIteration:
                    return
        finally:
            flow.close()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # Driven on the calling thread throughout. The lock is held across the token request: the
        # other threads then wait for the new token instead of each fetching one.
        asked = time.monotonic()
        with self._lock:
            if self._token is None:
                self._check_login_answered(asked)
                self._token = yield from self._login(request)
            token = self._token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if not _rejected(response):
            return
        asked = time.monotonic()
        with self._lock:
            if self._token == token:
                self._check_login_answered(asked)
                self._token = yield from self._login(request)
            token = self._token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    async def async_auth_flow(  # pragma: no cover - dli's clients are sync
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        raise NotImplementedError("AirflowTokenAuth is for synchronous clients")
        yield request  # never reached: the yield makes this the async generator httpx.Auth declares

    def _check_login_answered(self, asked: float) -> None:
        """Fail if a login sent while this thread waited for the lock got no answer."""
        lost = self._login_lost_at
        if lost is not None and lost >= asked:
            raise ServerError(
                f"Airflow at {self._display} did not answer: the login another request just sent got no answer",
                hints=("Check that the Airflow API server is up and not overloaded.",),
                details={"orchestrator": self._display},
            )

    def _login(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, str]:
        try:
            return (yield from self._fetch(request))
        except GeneratorExit:  # the client closes the flow: the login request itself failed (timeout, refused)
            self._login_lost_at = time.monotonic()
            raise

    def _fetch(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, str]:
        if not self._username or not self._password:
            raise ConfigurationError(
                f"No credentials for Airflow at {self._display}",
                hints=("Set DLI_AIRFLOW_USERNAME and DLI_AIRFLOW_PASSWORD.",),
            )
        response = yield httpx.Request(
            "POST",
            self._token_url,
            json={"username": self._username, "password": self._password},
            extensions=request.extensions,  # the same timeouts as the request it is for
        )
        if response.status_code in (401, 403):
            raise ServerError(
                f"Airflow at {self._display} refused dli's credentials ({error_detail(response)})",
                hints=("Check DLI_AIRFLOW_USERNAME / DLI_AIRFLOW_PASSWORD.",),
                details={"orchestrator": self._display},
            )
        if response.status_code not in (200, 201):
            raise ServerError(
                f"Airflow at {self._display} failed to log in: HTTP {response.status_code}: {error_detail(response)}",
                details={"orchestrator": self._display, "status": response.status_code},
            )
        try:
            return str(response.json()["access_token"])
        except (ValueError, KeyError, TypeError):
            raise ServerError(
                f"Airflow at {self._display} answered the login without a token",
                details={"orchestrator": self._display},
            ) from None


class AirflowSession:
    """Requests to one Airflow API server, as one user."""

    def __init__(
        self,
        *,
        base_url: str,
        username: str | None,
        password: str | None,
        connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout_seconds: float = DEFAULT_READ_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        url = base_url.rstrip("/")
        self.display = display_url(url)
        """Airflow's URL without credentials, for messages."""
        self._connect_timeout = connect_timeout_seconds
        self._read_timeout = read_timeout_seconds
        self._policy = retry_policy
        self._sleep = sleep
        self.auth = AirflowTokenAuth(
            token_url=f"{url}/auth/token", username=username, password=password, display=self.display
        )
        """The bearer-token authentication of every request."""
        self._client = httpx.Client(
            base_url=url,
            timeout=httpx.Timeout(read_timeout_seconds, connect=connect_timeout_seconds),
            transport=transport,
            auth=self.auth,
            # The trace of the Basecamp request (or CLI command) this call is made for goes on in Airflow.
            event_hooks={"request": [inject_trace_context]},
        )

    def __repr__(self) -> str:
        return f"AirflowSession(base_url={self.display!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    @property
    def retry_policy(self) -> RetryPolicy:
        """How often and how long requests are repeated."""
        return self._policy

    @property
    def locked_policy(self) -> RetryPolicy:
        """The policy of a write that Airflow's database may refuse while locked: SQLite's lock can
        last a few seconds under concurrent writers, so more patience than usual."""
        return attrs.evolve(self._policy, attempts=5, max_wait_seconds=2.0)

    def call(
        self,
        method: str,
        path: str,
        *,
        also_retry: Callable[[httpx.Response], bool] | None = None,
        policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One authenticated request, repeated where that is safe.

        ``also_retry``: a further answer known to be safe to repeat; ``policy``: this request's own.
        """
        try:
            return send_with_retries(
                lambda: self._client.request(method, path, **kwargs),
                method=method,
                policy=policy or self._policy,
                also=also_retry,
                sleep=self._sleep,
            )
        except httpx.TimeoutException as exc:
            waited = self._connect_timeout if isinstance(exc, httpx.ConnectTimeout) else self._read_timeout
            raise ServerError(
                f"Airflow at {self.display} did not answer in {waited:g} s",
                hints=("Check that the Airflow API server is up and not overloaded.",),
                details={"orchestrator": self.display},
            ) from None
        except httpx.HTTPError as exc:
            raise ServerError(
                f"Airflow at {self.display} is unreachable ({type(exc).__name__})",
                hints=("Check that the Airflow API server is running and DLI_AIRFLOW_URL is right.",),
                details={"orchestrator": self.display},
            ) from None

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
