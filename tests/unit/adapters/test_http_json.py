"""get_json: a failed GET, an error status or a body that is not JSON raise the caller's error."""

from __future__ import annotations

import httpx
import pytest

from dli.adapters.http_json import get_json


class Unreadable(Exception):
    pass


def _client(response: httpx.Response) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda request: response))


def test_the_json_body_of_a_2xx_answer_is_returned() -> None:
    http = _client(httpx.Response(200, json={"jwks_uri": "https://issuer/keys"}))
    assert get_json(http, "https://issuer/doc", unreadable=Unreadable) == {"jwks_uri": "https://issuer/keys"}


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(404, text="no"), "HTTPStatusError"),
        (httpx.Response(200, text="<html>"), "JSONDecodeError"),
    ],
)
def test_an_error_status_or_a_body_that_is_not_json_raise_the_callers_error(
    response: httpx.Response, reason: str
) -> None:
    with pytest.raises(Unreadable, match=reason):
        get_json(_client(response), "https://issuer/doc", unreadable=Unreadable)


def test_a_failed_connection_raises_the_callers_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(Unreadable, match="ConnectError"):
        get_json(http, "https://issuer/doc", unreadable=Unreadable)
