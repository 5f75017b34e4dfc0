"""Admission control: a bounded number of requests worked on, a bounded queue, no work for clients that left.

Without it an overloaded server accepts every request, hands each to a worker thread, and works
through a backlog whose clients gave up long ago: it recovers only when the backlog is gone. Here:

- at most ``max_in_flight`` requests are worked on at once (the rest would only share the GIL);
- at most ``max_queued`` wait, first come first served; one more is answered ``503`` with
  ``Retry-After`` at once (DLI-503), and so is one that waited ``queue_timeout_seconds``;
- a waiting request whose client disconnects is dropped without being worked on (logged as 499).

A waiting request's body is read first (bounded by the server's body limit) so that the connection
can be watched for the client leaving; the application then receives the same messages.
``/health`` is never queued: a probe says whether the process is alive, even when it is busy.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import attrs

from dli.domain.model.errors import ErrorCode
from dli.entrypoints.server.errors import error_bytes

__all__ = ["CLIENT_GONE_SCOPE_KEY", "QUEUED_MS_SCOPE_KEY", "AdmissionControl", "AdmissionLimits"]

CLIENT_GONE_SCOPE_KEY = "dli.client_gone"
QUEUED_MS_SCOPE_KEY = "dli.queued_ms"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Any for the app's own arguments: Litestar types its scope and messages as TypedDicts, read here as mappings.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


@attrs.frozen(kw_only=True)
class AdmissionLimits:
    """How much work one server process takes on."""

    max_in_flight: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    """Requests worked on at once."""
    max_queued: int = attrs.field(default=64, validator=attrs.validators.ge(0))
    """Requests waiting for a slot; one more is refused with 503."""
    queue_timeout_seconds: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    """A request that waited this long is refused with 503."""
    retry_after_seconds: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    """The ``Retry-After`` of a refusal."""
    max_body_bytes: int = 1024 * 1024
    """Bodies up to this size are read while waiting; a larger one waits without watching the client."""


@attrs.define
class AdmissionStats:
    """Counters since start (shown by ``/health``)."""

    in_flight: int = 0
    queued: int = 0
    refused: int = 0
    timed_out: int = 0
    abandoned: int = 0


class AdmissionControl:
    """ASGI middleware limiting the requests worked on and the requests waiting."""

    def __init__(self, app: ASGIApp, *, limits: AdmissionLimits, exempt_paths: frozenset[str] = frozenset()) -> None:
        self._app = app
        self._limits = limits
        self._exempt = exempt_paths
        self._in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._refused = self._timed_out = self._abandoned = 0

    @property
    def stats(self) -> AdmissionStats:
        """What the server is doing now, and what it refused so far."""
        return AdmissionStats(
            in_flight=self._in_flight,
            queued=len(self._waiters),
            refused=self._refused,
            timed_out=self._timed_out,
            abandoned=self._abandoned,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self._exempt:
            await self._app(scope, receive, send)
            return
        if self._in_flight < self._limits.max_in_flight and not self._waiters:
            self._in_flight += 1
            try:
                await self._app(scope, receive, send)
            finally:
                self._release()
            return
        if len(self._waiters) >= self._limits.max_queued:
            self._refused += 1
            await self._busy(send, f"Basecamp is busy: {len(self._waiters)} requests are already waiting")
            return
        await self._wait_then_run(scope, receive, send)

    async def _wait_then_run(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        buffered: list[Message] = []
        watcher: asyncio.Future[Message] | None = None
        try:
            gone, watch = await self._read_body(receive, buffered)
            if not gone and watch:
                # The body is read: the next receive() returns only when the client disconnects.
                watcher = asyncio.ensure_future(receive())
            if not gone:
                pending: set[asyncio.Future[Any]] = {waiter} if watcher is None else {waiter, watcher}
                await asyncio.wait(
                    pending, timeout=self._limits.queue_timeout_seconds, return_when=asyncio.FIRST_COMPLETED
                )
                gone = watcher is not None and watcher.done()
        except BaseException:
            self._leave(waiter)
            if watcher is not None:
                watcher.cancel()
            raise
        scope[QUEUED_MS_SCOPE_KEY] = round((time.perf_counter() - started) * 1000, 2)
        if gone:  # nobody is waiting for the answer: do not work on it
            self._abandoned += 1
            scope[CLIENT_GONE_SCOPE_KEY] = True
            self._leave(waiter)
            return
        if not waiter.done():
            self._timed_out += 1
            self._leave(waiter)
            if watcher is not None:
                watcher.cancel()
            await self._busy(
                send, f"Basecamp is busy: waited {self._limits.queue_timeout_seconds:g}s for a free worker"
            )
            return
        try:
            await self._app(scope, self._replay(buffered, watcher, receive), send)
        finally:
            if watcher is not None and not watcher.done():
                watcher.cancel()
            self._release()

    async def _read_body(self, receive: Receive, buffered: list[Message]) -> tuple[bool, bool]:
        """Read the request body into ``buffered``: (client gone, body complete so the client can be watched)."""
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return True, False
            buffered.append(message)
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                return False, True
            if size > self._limits.max_body_bytes:
                return False, False  # the application refuses it (413); not worth watching

    @staticmethod
    def _replay(buffered: list[Message], watcher: asyncio.Future[Message] | None, receive: Receive) -> Receive:
        state = {"watcher": watcher}

        async def replay() -> Message:
            if buffered:
                return buffered.pop(0)
            pending = state["watcher"]
            if pending is not None:
                state["watcher"] = None
                return await pending
            return await receive()

        return replay

    def _leave(self, waiter: asyncio.Future[None]) -> None:
        """Give up a place in the queue, or the slot it was just granted."""
        if waiter.done() and not waiter.cancelled():
            self._release()  # granted a slot it will not use: pass it on
            return
        waiter.cancel()
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass

    def _release(self) -> None:
        self._in_flight -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(None)
                return

    async def _busy(self, send: Send, message: str) -> None:
        retry_after = self._limits.retry_after_seconds
        body = error_bytes(
            ErrorCode.SERVER_ERROR,
            message,
            details={"retry_after_seconds": retry_after},
            hints=(f"Retry after {retry_after}s; if this persists, run more Basecamp processes or replicas.",),
        )
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
