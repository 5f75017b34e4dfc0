"""A scripted Airflow for the adapter's unit tests (httpx.MockTransport): routes, recorded requests, tokens."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx

from dli.adapters.airflow.orchestrator import AirflowOrchestrator
from dli.adapters.clock import FakeClock

URL = "http://airflow.test:8080"
PASSWORD = "pw-secret"

Handler = Callable[[httpx.Request], httpx.Response]


class ScriptedAirflow:
    """Issues tokens ``tok1``, ``tok2``... at ``/auth/token`` and answers the rest with ``handler``."""

    def __init__(self, handler: Handler, *, token_errors: list[type[httpx.TransportError]] | None = None) -> None:
        self._handler = handler
        self._token_errors = list(token_errors or ())
        self._lock = threading.Lock()
        self.tokens_issued = 0
        self.requests: list[httpx.Request] = []
        """Every request but the token requests, in order."""
        self.bearers: list[str] = []
        """The ``Authorization`` header of each of them, as sent (a request sent again is the same object)."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            if self._token_errors:
                raise self._token_errors.pop(0)("token endpoint down", request=request)
            with self._lock:
                self.tokens_issued += 1
                token = f"tok{self.tokens_issued}"
            return _streamed(httpx.Response(201, json={"access_token": token}), request)
        with self._lock:
            self.requests.append(request)
            self.bearers.append(request.headers.get("Authorization", ""))
        return _streamed(self._handler(request), request)

    def calls(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request but the token requests."""
        return [(r.method, r.url.path) for r in self.requests]

    def orchestrator(self, **kwargs: Any) -> AirflowOrchestrator:
        options: dict[str, Any] = {"sleep": lambda _s: None, "username": "admin", "password": PASSWORD}
        options.update(kwargs)
        return AirflowOrchestrator(base_url=URL, clock=FakeClock(), transport=httpx.MockTransport(self), **options)


def _streamed(response: httpx.Response, request: httpx.Request) -> httpx.Response:
    """``response`` as a real transport gives it: its body not read yet."""
    return httpx.Response(
        response.status_code, headers=response.headers, stream=httpx.ByteStream(response.read()), request=request
    )


def body(request: httpx.Request) -> Any:
    return json.loads(request.content or b"null")
