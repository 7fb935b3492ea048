"""Tests for sipsimple.core.sip.transaction.keys: matching per RFC 3261 §17.1.3, §17.2.3, §9.2."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipsimple.core.sip.transaction.keys import (
    MAGIC_COOKIE,
    ClientKey,
    ServerKey,
    cancel_target_key,
    client_key,
    is_rfc3261_branch,
    request_matches,
    response_matches,
    server_key,
)

BRANCH = "z9hG4bK776asdhds"


def test_response_matches_by_branch_and_cseq_method() -> None:
    """A response matches the client transaction with its Via branch and CSeq method only."""
    key = client_key(BRANCH, "INVITE")
    assert key == ClientKey(BRANCH.lower(), "INVITE")
    assert response_matches(key, BRANCH, "INVITE")
    assert not response_matches(key, BRANCH + "x", "INVITE")
    assert not response_matches(key, BRANCH, "CANCEL")  # CANCEL shares the branch


def test_cancel_and_invite_are_distinct_client_transactions() -> None:
    """A 200 to a CANCEL does not match the INVITE transaction with the same branch."""
    assert client_key(BRANCH, "CANCEL") != client_key(BRANCH, "INVITE")


def test_server_key_includes_sent_by() -> None:
    """Two clients using the same branch from different sent-by values are different transactions."""
    a = server_key(BRANCH, "pc33.atlanta.example.com", 5060, "INVITE")
    assert a == ServerKey(BRANCH.lower(), "pc33.atlanta.example.com", 5060, "INVITE")
    assert a != server_key(BRANCH, "pc34.atlanta.example.com", 5060, "INVITE")
    assert a != server_key(BRANCH, "pc33.atlanta.example.com", 5070, "INVITE")
    assert a != server_key(BRANCH, "pc33.atlanta.example.com", None, "INVITE")


def test_ack_matches_the_invite_server_transaction() -> None:
    """An ACK (for a non-2xx) has the key of the INVITE it acknowledges; a BYE does not."""
    key = server_key(BRANCH, "10.0.0.1", 5060, "INVITE")
    assert key is not None
    assert request_matches(key, BRANCH, "10.0.0.1", 5060, "ACK")
    assert request_matches(key, BRANCH, "10.0.0.1", 5060, "INVITE")
    assert not request_matches(key, BRANCH, "10.0.0.1", 5060, "BYE")


def test_cancel_is_its_own_transaction_and_finds_its_target() -> None:
    """A CANCEL does not match the INVITE transaction, but cancel_target_key finds it (§9.2)."""
    invite = server_key(BRANCH, "10.0.0.1", 5060, "INVITE")
    assert server_key(BRANCH, "10.0.0.1", 5060, "CANCEL") != invite
    assert cancel_target_key(BRANCH, "10.0.0.1", 5060) == invite


def test_branch_and_host_compare_ignoring_case_but_method_does_not() -> None:
    """Branch is a token and host a hostname (case-insensitive); the method is case-sensitive."""
    key = server_key(BRANCH, "Atlanta.Example.COM", 5060, "INVITE")
    assert key is not None
    assert request_matches(key, BRANCH.upper(), "atlanta.example.com", 5060, "INVITE")
    assert not request_matches(key, BRANCH, "atlanta.example.com", 5060, "invite")


@pytest.mark.parametrize("branch", [None, "", "776asdhds", "z9hG4bK", "z9hG4b776", "1234"])
def test_without_the_magic_cookie_there_is_no_key(branch: str | None) -> None:
    """RFC 2543 matching is not implemented: a missing, bare-cookie or cookie-less branch gives None."""
    assert not is_rfc3261_branch(branch)
    assert client_key(branch, "INVITE") is None
    assert server_key(branch, "h", 5060, "INVITE") is None
    assert cancel_target_key(branch, "h", 5060) is None


def test_cookie_is_recognised_ignoring_case() -> None:
    """A branch that starts with the cookie in another case is still an RFC 3261 branch."""
    assert is_rfc3261_branch("Z9HG4BK-abc")
    assert is_rfc3261_branch(MAGIC_COOKIE + "x")


@given(
    suffix=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=20),
    host=st.sampled_from(["a.example", "10.0.0.1", "[2001:db8::1]"]),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    method=st.sampled_from(["INVITE", "OPTIONS", "BYE", "CANCEL", "SUBSCRIBE"]),
)
def test_a_retransmission_always_matches_its_own_transaction(
    suffix: str, host: str, port: int | None, method: str
) -> None:
    """Property: a request repeating the same Via and method matches its transaction; the same
    request with any one field changed does not."""
    branch = MAGIC_COOKIE + suffix
    key = server_key(branch, host, port, method)
    assert key is not None
    assert request_matches(key, branch, host, port, method)
    assert not request_matches(key, branch + "0", host, port, method)
    assert not request_matches(key, branch, host + "x", port, method)
    assert not request_matches(key, branch, host, (port or 0) + 1, method)
    assert not request_matches(key, branch, host, port, method + "X")
