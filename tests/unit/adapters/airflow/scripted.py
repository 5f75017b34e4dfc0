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

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._lock = threading.Lock()
        self.tokens_issued = 0
        self.requests: list[httpx.Request] = []
        """Every request but the token requests, in order."""
        self.bearers: list[str] = []
        """The ``Authorization`` header of each of them, as sent (a request sent again is the same object)."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            with self._lock:
                self.tokens_issued += 1
                token = f"tok{self.tokens_issued}"
            return httpx.Response(201, json={"access_token": token})
        with self._lock:
            self.requests.append(request)
            self.bearers.append(request.headers.get("Authorization", ""))
        return self._handler(request)

    def calls(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request but the token requests."""
        return [(r.method, r.url.path) for r in self.requests]

    def orchestrator(self, **kwargs: Any) -> AirflowOrchestrator:
        options: dict[str, Any] = {"sleep": lambda _s: None, "username": "admin", "password": PASSWORD}
        options.update(kwargs)
        return AirflowOrchestrator(
            base_url=URL, clock=FakeClock(), transport=httpx.MockTransport(self), **options
        )


def body(request: httpx.Request) -> Any:
    return json.loads(request.content or b"null")
