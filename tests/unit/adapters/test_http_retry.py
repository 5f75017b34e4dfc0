"""The shared retry rule: repeat only what cannot do anything twice, a bounded number of times."""

from __future__ import annotations

import httpx
import pytest

from dli.adapters.http_retry import RetryPolicy, httpx_error_is_retryable, send_with_retries

REQUEST = httpx.Request("GET", "http://dep.test/x")
NO_WAIT = RetryPolicy(first_wait_seconds=0, max_wait_seconds=0)


@pytest.mark.parametrize(
    ("method", "error", "retryable"),
    [
        ("POST", httpx.ConnectError, True),  # nothing was sent
        ("PATCH", httpx.ConnectTimeout, True),
        ("GET", httpx.ReadError, True),
        ("GET", httpx.RemoteProtocolError, True),
        ("POST", httpx.ReadError, False),  # it may have been received
        ("DELETE", httpx.RemoteProtocolError, False),
        ("GET", httpx.ReadTimeout, False),  # a hung dependency: asking again doubles the wait
        ("POST", httpx.WriteTimeout, False),
    ],
)
def test_which_httpx_failures_are_repeated(method, error, retryable) -> None:
    assert httpx_error_is_retryable(method, error("x", request=REQUEST)) is retryable


def test_giving_up_re_raises_the_last_error_after_the_attempts() -> None:
    calls = []

    def send() -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError(f"refused {len(calls)}", request=REQUEST)

    with pytest.raises(httpx.ConnectError, match="refused 3"):
        send_with_retries(send, method="GET", policy=NO_WAIT, sleep=lambda _s: None)
    assert len(calls) == 3


def test_giving_up_returns_the_last_answer() -> None:
    answers = iter([502, 503, 504, 200])
    response = send_with_retries(
        lambda: httpx.Response(next(answers)), method="GET", policy=NO_WAIT, sleep=lambda _s: None
    )
    assert response.status_code == 504


def test_a_caller_may_name_one_more_safe_answer_for_a_non_idempotent_request() -> None:
    answers = iter([httpx.Response(503, text="database is locked"), httpx.Response(201)])
    response = send_with_retries(
        lambda: next(answers),
        method="POST",
        policy=NO_WAIT,
        sleep=lambda _s: None,
        also=lambda r: "locked" in r.text,
    )
    assert response.status_code == 201


def test_waits_between_attempts_grow_and_stay_bounded() -> None:
    waits: list[float] = []
    policy = RetryPolicy(attempts=6, first_wait_seconds=0.2, max_wait_seconds=1.0)
    with pytest.raises(httpx.ConnectError):
        send_with_retries(
            lambda: (_ for _ in ()).throw(httpx.ConnectError("x", request=REQUEST)),
            method="GET",
            policy=policy,
            sleep=waits.append,
        )
    assert len(waits) == 5
    assert 0.2 <= waits[0] <= 0.4 and all(w <= 1.2 for w in waits) and waits[-1] >= 1.0


def test_no_attempt_starts_once_the_budget_is_spent() -> None:
    calls = []

    def send() -> httpx.Response:
        calls.append(1)
        return httpx.Response(503)

    send_with_retries(send, method="GET", policy=RetryPolicy(attempts=5, budget_seconds=0), sleep=lambda _s: None)
    assert len(calls) == 1
