"""When dli's HTTP adapters (Airflow, S3, the Basecamp client) repeat a request, and how.

The rule: repeat only where repeating cannot do anything twice.

- The connection was never made (refused, unresolvable, connect timeout): any method, since
  nothing reached the server.
- An idempotent request (GET, HEAD, OPTIONS): also after any other transport failure (a reset, a
  broken response) and after a 502, 503 or 504 answer (a proxy or an overloaded server that may do
  better a moment later).
- A timed-out read is never repeated, whatever the method: the dependency took the request and did
  not answer in time. Asking again would multiply the time a hung dependency costs the caller, and
  the per-dependency timeouts are what bound that time.

A caller may add one more, narrower case (``also``) where it knows a refusal did nothing, e.g.
Airflow on SQLite answering 503 "database is locked" after rolling the request back.

tenacity rather than stamina: stamina only ever retries on exceptions, while a 502/503/504 is an
ordinary ``httpx.Response``; tenacity decides on a result as well (``retry_if_result``), without
turning answers into exceptions and back. tenacity is also already in Airflow's environment, where
the DAG factory imports the S3 store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import attrs
import httpx
import tenacity

__all__ = [
    "DEFAULT_POLICY",
    "IDEMPOTENT_METHODS",
    "RETRY_STATUSES",
    "RetryPolicy",
    "httpx_error_is_retryable",
    "send_with_retries",
]

_T = TypeVar("_T")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long to wait between attempts (the *what* is the module's rule)."""

    attempts: int = 3
    """Attempts in all, the first included."""
    first_wait_seconds: float = 0.2
    """Wait before the second attempt; it doubles, with jitter, up to ``max_wait_seconds``."""
    max_wait_seconds: float = 1.0
    """Longest wait between two attempts."""
    budget_seconds: float = 12.0
    """No attempt is started once this much time has passed since the first one."""

    def call(
        self,
        attempt: Callable[[], _T],
        *,
        retry_error: Callable[[BaseException], bool],
        retry_result: Callable[[_T], bool] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> _T:
        """Run ``attempt`` until it succeeds or the policy gives up.

        Giving up re-raises the last error, or returns the last result (e.g. the last 503 response),
        so the caller reports it as it would report a single failure.
        """
        retry: tenacity.retry_base = tenacity.retry_if_exception(retry_error)
        if retry_result is not None:
            retry = retry | tenacity.retry_if_result(retry_result)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, self.attempts)) | tenacity.stop_after_delay(self.budget_seconds),
            wait=tenacity.wait_exponential(multiplier=self.first_wait_seconds, max=self.max_wait_seconds)
            + tenacity.wait_random(0, self.first_wait_seconds),
            retry=retry,
            sleep=sleep,
            reraise=True,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        return retrying(attempt)


DEFAULT_POLICY = RetryPolicy()


def httpx_error_is_retryable(method: str, error: BaseException) -> bool:
    """Whether ``error`` from an httpx request with ``method`` may be repeated (the module's rule)."""
    if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
        return True
    if isinstance(error, httpx.TimeoutException):
        return False
    return method.upper() in IDEMPOTENT_METHODS and isinstance(error, httpx.TransportError)


def send_with_retries(
    send: Callable[[], httpx.Response],
    *,
    method: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    also: Callable[[httpx.Response], bool] | None = None,
    final: Callable[[httpx.Response], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """``send()`` (one httpx request with ``method``), repeated where the module's rule allows.

    ``also``: a further answer the caller knows to be safe to repeat for this request; ``final``: an
    answer the caller knows to be final although its status is one the rule repeats (e.g. a 503 the
    server itself sent after its own dependency's timeout: asking again would multiply the wait).
    """
    idempotent = method.upper() in IDEMPOTENT_METHODS

    def retry_result(response: httpx.Response) -> bool:
        if final is not None and final(response):
            return False
        if idempotent and response.status_code in RETRY_STATUSES:
            return True
        return also is not None and also(response)

    return policy.call(
        send,
        retry_error=lambda error: httpx_error_is_retryable(method, error),
        retry_result=retry_result,
        sleep=sleep,
    )
