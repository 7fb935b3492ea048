"""The words for DNS failures: each dnspython failure becomes a sentence naming query, servers and
problem; only NXDOMAIN and authoritative empty answers are final for the NS-first lookups."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.resolver
import pytest

from sipsimple.lookup._problems import (
    describe_query_error,
    describe_server_problem,
    is_definitive,
    is_truncated,
)


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        ("SERVFAIL", "answered SERVFAIL"),
        ("REFUSED", "answered REFUSED"),
        (dns.message.ChainTooLong(), "answered with a CNAME chain that loops or is too long"),
        (dns.message.AnswerForNXDOMAIN(), "answered NXDOMAIN together with records"),
        (dns.message.Truncated(), "sent a truncated answer, also over TCP"),
        (dns.message.ShortHeader(), "sent a malformed answer"),
        (dns.message.TrailingJunk(), "sent a malformed answer"),
        (EOFError(), "closed the TCP connection without an answer"),
        (ConnectionRefusedError(111, "Connection refused"), "could not be reached (Connection refused)"),
        (dns.exception.Timeout(), "did not answer in time"),
        (NotImplementedError("x"), "failed (NotImplementedError: x)"),
    ],
)
def test_each_server_problem_has_its_words(problem: object, text: str) -> None:
    assert describe_server_problem(problem) == text


def test_nxdomain_timeout_and_noanswer() -> None:
    nxdomain = dns.resolver.NXDOMAIN(qnames=[dns.name.from_text("x.test")])
    assert describe_query_error("A", "x.test", nxdomain, ["192.0.2.53"], 15) == "x.test does not exist"
    assert (
        describe_query_error("SRV", "x.test", dns.exception.Timeout(), ["192.0.2.53", "192.0.2.54"], 2.5)
        == "no answer from 192.0.2.53, 192.0.2.54 for SRV x.test within 2.5 s"
    )
    assert describe_query_error("A", "x.test", dns.resolver.NoAnswer(), ["192.0.2.53"], 15) is None


def test_no_nameservers_lists_each_server_once() -> None:
    error = dns.resolver.NoNameservers(
        request=dns.message.make_query("x.test", "A"),
        errors=[
            ("192.0.2.53", False, 53, "SERVFAIL", None),
            ("192.0.2.53", False, 53, "SERVFAIL", None),
            ("Do53:192.0.2.54@5353", False, 5353, dns.message.Truncated(), None),  # retried over TCP
            ("Do53:192.0.2.54@5353", True, 5353, dns.message.ShortHeader(), None),
        ],
    )
    assert describe_query_error("A", "x.test", error, ["192.0.2.53"], 15) == (
        "A x.test: 192.0.2.53 port 53 (UDP) answered SERVFAIL; "
        "192.0.2.54 port 5353 (TCP) sent a malformed answer"
    )
    empty = dns.resolver.NoNameservers(request=dns.message.make_query("x.test", "A"), errors=[])
    assert describe_query_error("A", "x.test", empty, [], 15) == "every nameserver failed for A x.test"


def test_other_dns_errors_keep_their_own_message() -> None:
    assert (
        describe_query_error("A", "x.test", dns.exception.SyntaxError("bad"), [], 15)
        == "A x.test failed: bad"
    )


def test_definitive_answers() -> None:
    response = dns.message.make_response(dns.message.make_query("x.test", "SRV"))
    response.flags |= dns.flags.AA
    assert is_definitive(dns.resolver.NXDOMAIN(qnames=[dns.name.from_text("x.test")]))
    assert is_definitive(dns.resolver.NoAnswer(response=response))
    response.flags &= ~dns.flags.AA
    assert not is_definitive(dns.resolver.NoAnswer(response=response))  # a referral
    assert not is_definitive(dns.exception.Timeout())
    assert not is_definitive(dns.resolver.NoNameservers(request=response, errors=[]))


def test_an_answer_truncated_also_over_tcp_is_named_and_not_final() -> None:
    response = dns.message.make_response(dns.message.make_query("x.test", "A"))
    response.flags |= dns.flags.TC | dns.flags.AA
    error = dns.resolver.NoAnswer(response=response)
    assert is_truncated(error) and not is_definitive(error)
    assert describe_query_error("A", "x.test", error, ["192.0.2.53"], 15) == (
        "the answer of 192.0.2.53 for A x.test was truncated, also over TCP"
    )
    assert not is_truncated(dns.resolver.NoAnswer()) and not is_truncated(ValueError())
