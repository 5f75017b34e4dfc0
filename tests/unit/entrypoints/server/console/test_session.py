"""The console's signed session cookie: who, until when, the CSRF token; never the token signed in with."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dli.domain.model.access import AuthMethod, Identity
from dli.entrypoints.server.console.session import SessionCodec, same_token

SECRET = b"s" * 32
ALICE = Identity(name="alice", groups=frozenset({"de", "oncall"}), method=AuthMethod.OIDC)


def test_a_session_reads_back_the_identity_it_was_made_for():
    codec = SessionCodec(SECRET, now=lambda: 1000.0)
    made, value = codec.new_session(ALICE, seconds=60)
    read = codec.session(value)
    assert read == made
    assert read is not None and read.identity == ALICE and read.expires == 1060


def test_an_expired_session_is_no_session():
    clock = [1000.0]
    codec = SessionCodec(SECRET, now=lambda: clock[0])
    _, value = codec.new_session(ALICE, seconds=60)
    clock[0] = 1060.0
    assert codec.session(value) is None


def test_a_cookie_signed_with_another_secret_is_no_session():
    _, value = SessionCodec(b"x" * 32).new_session(ALICE)
    assert SessionCodec(SECRET).session(value) is None


def test_a_cookie_whose_payload_was_changed_is_no_session():
    codec = SessionCodec(SECRET)
    _, value = codec.new_session(Identity(name="eve"))
    body, mac = value.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["g"] = ["platform"]  # eve makes herself an admin
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert codec.session(f"{forged}.{mac}") is None


@given(st.text(max_size=200))
def test_any_other_cookie_value_is_no_session_and_never_an_error(value):
    assert SessionCodec(SECRET).session(value) is None


def test_each_session_has_its_own_csrf_token():
    codec = SessionCodec(SECRET)
    first, _ = codec.new_session(ALICE)
    second, _ = codec.new_session(ALICE)
    assert first.csrf != second.csrf and len(first.csrf) >= 32


def test_the_pre_session_cookie_keeps_what_it_was_given_for_a_while():
    clock = [0.0]
    codec = SessionCodec(SECRET, now=lambda: clock[0])
    value = codec.pre({"csrf": "abc", "state": "xyz"}, seconds=600)
    assert codec.read_pre(value) == {"csrf": "abc", "state": "xyz"}
    clock[0] = 601.0
    assert codec.read_pre(value) == {}


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError):
        SessionCodec(b"short")


@pytest.mark.parametrize(("given_token", "expected"), [("abc", True), ("abd", False), ("", False), (None, False)])
def test_same_token(given_token, expected):
    assert same_token(given_token, "abc") is expected
