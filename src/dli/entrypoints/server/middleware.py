"""ASGI middleware in front of the app: request id, bearer-token authentication, one log line per request.

It wraps the whole application, so a request refused before routing (no token) is logged like any
other. Tokens are read from the ``Authorization`` header only and never logged or echoed; a token a
client put in the path or the query is redacted from the log line (``logs.redact``), and a client's
``X-Request-ID`` is echoed and logged only when it is short, plain and not token-shaped.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import structlog

from dli.domain.model.errors import DLIError, ErrorCode
from dli.entrypoints.server.admission import CLIENT_GONE_SCOPE_KEY, QUEUED_MS_SCOPE_KEY
from dli.entrypoints.server.errors import dli_error_bytes, error_bytes
from dli.entrypoints.server.logs import redact

if TYPE_CHECKING:
    from dli.entrypoints.server.identities import Authenticator

__all__ = ["IDENTITY_SCOPE_KEY", "REQUEST_ID_SCOPE_KEY", "USER_SCOPE_KEY", "RequestMiddleware"]

USER_SCOPE_KEY = "dli.user"
IDENTITY_SCOPE_KEY = "dli.identity"
"""The caller's ``Identity`` (name, groups, how it authenticated), for the policy."""
REQUEST_ID_SCOPE_KEY = "dli.request_id"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

_ids = random.Random()  # seeded from the OS once
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Dataset names never contain these; an encoded one in the path is a path trick, refused as a bad name.
_ENCODED_TRICKS = re.compile(rb"%2[fF]|%5[cC]|%00")


def _request_id(given: str | None) -> str:
    """The client's request id when it is safe to echo and log, a new one otherwise."""
    if given and _REQUEST_ID.fullmatch(given) and redact(given) == given:
        return given
    # Unique, not secret: a random 128 bits without the system call uuid4 makes on the event loop.
    return f"{_ids.getrandbits(128):032x}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class RequestMiddleware:
    """Authenticates every request but the public paths, and logs it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: Authenticator,
        public_paths: frozenset[str],
        logger: Any | None = None,
        console_prefix: str | None = None,
    ) -> None:
        self._app = app
        self._tokens = tokens
        self._public = public_paths
        # The web console signs its requests in itself (a bearer header or its session cookie) and
        # answers a browser without either with its sign-in page, not a 401.
        self._console = console_prefix
        self._log = logger or structlog.get_logger("dli.server")

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(_header(scope, b"x-request-id"))
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        seen: dict[str, Any] = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                seen["started"] = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            refusal = self._refuse(scope)
            if refusal is not None:
                status, body, headers = refusal
                await _respond(send_with_id, status, body, headers)
            else:
                await self._app(scope, receive, send_with_id)
        finally:
            query = scope.get("query_string") or b""
            if scope.get(CLIENT_GONE_SCOPE_KEY) and "started" not in seen:
                seen["status"] = 499  # the client left while it waited: nothing was worked on or sent
            queued = scope.get(QUEUED_MS_SCOPE_KEY)
            self._log.info(
                "request",
                method=scope.get("method"),
                path=redact(str(scope.get("path", ""))),
                **({"query": redact(query.decode("latin-1"))} if query else {}),
                **({"queued_ms": queued} if queued is not None else {}),
                status=seen["status"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                user=scope.get(USER_SCOPE_KEY),
                request_id=request_id,
            )

    def _refuse(self, scope: Scope) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        path = scope.get("path", "")
        if path in self._public:
            return None
        if self._console is not None and (path == self._console or path.startswith(self._console + "/")):
            return None
        challenge = [(b"www-authenticate", b'Bearer realm="basecamp"')]
        authorization = _header(scope, b"authorization")
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            body = error_bytes(
                ErrorCode.AUTH_FAILED,
                "Missing bearer token",
                hints=("Send 'Authorization: Bearer <token>'; set DLI_API_TOKEN for the dli CLI.",),
            )
            return 401, body, challenge
        try:
            identity = self._tokens.identity(token)
        except DLIError as exc:  # unreadable tokens file, issuer unreachable: the server's problem
            self._log.error("authentication_error", code=exc.code.value, error=exc.message)
            return 503, dli_error_bytes(exc), []
        if identity is None:
            body = error_bytes(
                ErrorCode.AUTH_FAILED,
                "Invalid API token",
                hints=(
                    "Ask an administrator for a token ('basecamp token add USER'), or sign in again ('dli auth login').",
                ),
            )
            return 401, body, challenge
        scope[USER_SCOPE_KEY] = identity.name
        scope[IDENTITY_SCOPE_KEY] = identity
        raw_path: bytes = scope.get("raw_path") or b""
        if raw_path.startswith(b"/api/v1/workflows/") and _ENCODED_TRICKS.search(raw_path):
            body = error_bytes(
                ErrorCode.SPEC_INVALID,
                "Invalid dataset name in path",
                hints=("Dataset names are dot-separated lowercase identifiers, e.g. 'shop.sales.daily'.",),
            )
            return 422, body, []
        return None


async def _respond(
    send: Callable[[Message], Awaitable[None]], status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
