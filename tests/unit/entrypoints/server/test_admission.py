"""Admission control: bounded work, a bounded first-come-first-served queue, 503 with Retry-After
beyond it, and no work for a request whose client left while it waited."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from dli.entrypoints.server.admission import CLIENT_GONE_SCOPE_KEY, AdmissionControl, AdmissionLimits


class Blocking:
    """An ASGI app whose requests finish only when the test releases them."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.bodies: dict[str, bytes] = {}
        self.release: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        name = scope["path"]
        self.started.append(name)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies[name] = body
        await self.release.setdefault(name, asyncio.Event()).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def finish(self, name: str) -> None:
        self.release.setdefault(name, asyncio.Event()).set()


class Client:
    """One request: its messages to the app, what it got back, and a way to leave."""

    def __init__(self, control: AdmissionControl, path: str, body: bytes = b"") -> None:
        self.scope: dict[str, Any] = {"type": "http", "path": path, "method": "POST" if body else "GET"}
        self.sent: list[dict[str, Any]] = []
        self._incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._incoming.put_nowait({"type": "http.request", "body": body, "more_body": False})
        self.task = asyncio.ensure_future(control(self.scope, self._incoming.get, self._send))

    async def _send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def leave(self) -> None:
        self._incoming.put_nowait({"type": "http.disconnect"})

    @property
    def status(self) -> int | None:
        return self.sent[0]["status"] if self.sent else None

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"]) if self.sent else {}


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_beyond_the_queue_a_request_is_refused_at_once_with_retry_after():
    async def scenario() -> None:
        app = Blocking()
        control = AdmissionControl(app, limits=AdmissionLimits(max_in_flight=1, max_queued=1, retry_after_seconds=3))
        first, second, third = Client(control, "/a"), Client(control, "/b"), Client(control, "/c")
        await _settle()
        assert app.started == ["/a"]
        assert (control.stats.in_flight, control.stats.queued) == (1, 1)
        assert third.status == 503 and third.headers[b"retry-after"] == b"3"
        error = json.loads(third.sent[1]["body"])["error"]
        assert error["code"] == "DLI-503" and error["details"] == {"retry_after_seconds": 3}
        app.finish("/a")
        await _settle()
        assert first.status == 200 and app.started == ["/a", "/b"]
        app.finish("/b")
        await asyncio.gather(first.task, second.task, third.task)
        assert second.status == 200 and control.stats.refused == 1 and control.stats.in_flight == 0

    run(scenario())


def test_a_request_whose_client_left_while_waiting_is_never_worked_on():
    async def scenario() -> None:
        app = Blocking()
        control = AdmissionControl(app, limits=AdmissionLimits(max_in_flight=1, max_queued=4))
        first, gone, kept = Client(control, "/a"), Client(control, "/gone"), Client(control, "/kept", body=b'{"x": 1}')
        await _settle()
        gone.leave()
        await _settle()
        assert gone.task.done() and gone.sent == [] and gone.scope[CLIENT_GONE_SCOPE_KEY] is True
        assert control.stats.abandoned == 1 and control.stats.queued == 1
        app.finish("/a")
        app.finish("/kept")
        await asyncio.gather(first.task, kept.task)
        assert app.started == ["/a", "/kept"]  # first come, first served; the one that left is skipped
        assert app.bodies["/kept"] == b'{"x": 1}'  # the body read while waiting reaches the app intact
        assert kept.status == 200

    run(scenario())


def test_a_request_that_waited_too_long_is_refused_and_its_place_freed():
    async def scenario() -> None:
        app = Blocking()
        control = AdmissionControl(
            app, limits=AdmissionLimits(max_in_flight=1, max_queued=4, queue_timeout_seconds=0.05)
        )
        first, late = Client(control, "/a"), Client(control, "/late")
        await late.task
        assert late.status == 503 and b"retry-after" in late.headers
        assert control.stats.timed_out == 1 and control.stats.queued == 0
        app.finish("/a")
        await first.task
        assert app.started == ["/a"] and control.stats.in_flight == 0

    run(scenario())


def test_exempt_paths_and_other_scopes_pass_straight_through():
    async def scenario() -> None:
        app = Blocking()
        control = AdmissionControl(
            app, limits=AdmissionLimits(max_in_flight=1, max_queued=0), exempt_paths=frozenset({"/health"})
        )
        busy = Client(control, "/a")
        health = Client(control, "/health")
        refused = Client(control, "/b")
        await _settle()
        assert app.started == ["/a", "/health"] and refused.status == 503
        app.finish("/a")
        app.finish("/health")
        await asyncio.gather(busy.task, health.task, refused.task)
        assert control.stats.in_flight == 0

    run(scenario())


@pytest.mark.parametrize("field,value", [("max_in_flight", 0), ("max_queued", -1), ("queue_timeout_seconds", 0)])
def test_limits_are_checked(field, value):
    with pytest.raises(ValueError):
        AdmissionLimits(**{field: value})


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--workers", "2"], "memory:// keeps simulated runs inside one process"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--max-in-flight", "0"], "Invalid admission limits"),
        (["--queue-timeout", "0"], "Invalid admission limits"),
    ],
)
def test_serve_refuses_options_it_cannot_honour(argv, says, capsys, tmp_path):
    from dli.entrypoints.server.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "--tokens-file", str(tmp_path / "tokens.json"), *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "DLI-001" in err and says in err
