"""structlog set-up of the server: JSON lines (production) or a console renderer (a terminal).

Nothing secret reaches the output: fields named like secrets are masked whole, and token-shaped
text anywhere in a logged value (a path, a query, a header, an error message) is redacted by
``redact``. Clients do put tokens where they do not belong (``?token=...``, a token pasted into a
URL), and a request log line is the first place such a mistake would leak from.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

__all__ = ["configure_logging", "redact"]

MASK = "***"

# Whatever a caller passes, these never reach the output.
_SECRET_KEYS = frozenset({"token", "authorization", "password", "secret", "api_token", "airflow_password"})

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Basecamp API tokens (bc_<16 hex id>_<secret>), even cut short; long enough not to hit names like bc_sales.
    (re.compile(r"\bbc_[A-Za-z0-9_-]{16,}"), "bc_" + MASK),
    # JWTs (Airflow's, or any bearer token of that shape): three base64url parts, the first '{"'.
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    # The value of any parameter named like a credential: token=, access_token=, api_key=, X-Amz-Signature=...
    (
        re.compile(
            r"(?i)\b([\w.-]*(?:token|passw(?:or)?d|secret|api[_-]?key|signature|credential|authorization)[\w.-]*)=[^&\s;,\"']*"
        ),
        r"\1=" + MASK,
    ),
    # Authorization header values.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + MASK),
    # Credentials in a URL: scheme://user:password@host
    (re.compile(r"(://[^/\s:@]+):[^@\s/]+@"), r"\1:" + MASK + "@"),
)


def redact(text: str) -> str:
    """``text`` with every token-shaped part replaced by ``***``."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: MASK if str(k).lower() in _SECRET_KEYS else _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redacted(v) for v in value)
    return value


def _drop_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    for key in list(event):
        event[key] = MASK if key.lower() in _SECRET_KEYS else _redacted(event[key])
    return event


def configure_logging(fmt: str = "json", *, level: int = logging.INFO) -> None:
    """Send structlog events to stdout, one JSON object per line (``fmt='json'``) or pretty."""
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if fmt == "json" else structlog.dev.set_exc_info,
            _drop_secrets,  # after format_exc_info: a traceback is text that may quote a token too
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )
