"""What went wrong with a DNS query, in words a person can act on (for ``DNSLookupDidFail``).

dnspython reports a failed query as an exception: NXDOMAIN, NoAnswer, a timeout, or NoNameservers
carrying, per server, what that server did wrong (an rcode such as SERVFAIL, a malformed or
truncated message, a CNAME chain that loops, a network error). `describe_query_error` turns one
into a sentence naming the query, the servers and the problem. (An answer still truncated over TCP
reaches us as an empty NoAnswer with the TC flag; it is reported as truncated, not as "no record".)
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.exception
import dns.flags
import dns.message
import dns.resolver

__all__ = ["describe_query_error", "describe_server_problem", "is_definitive", "is_truncated"]

# (what a server did, how to say it): the first matching row wins, so subclasses come first.
SERVER_PROBLEMS: tuple[tuple[type[BaseException], str], ...] = (
    (dns.message.ChainTooLong, "answered with a CNAME chain that loops or is too long"),
    (dns.message.AnswerForNXDOMAIN, "answered NXDOMAIN together with records"),
    (dns.message.Truncated, "sent a truncated answer, also over TCP"),
    (dns.exception.FormError, "sent a malformed answer"),
    (EOFError, "closed the TCP connection without an answer"),
    (dns.exception.Timeout, "did not answer in time"),
)


def describe_server_problem(problem: object) -> str:
    """One entry of NoNameservers' ``errors``: an rcode text or the exception of that server."""
    if isinstance(problem, str):
        return f"answered {problem}"
    for kind, text in SERVER_PROBLEMS:
        if isinstance(problem, kind):
            return text
    if isinstance(problem, OSError):
        return f"could not be reached ({problem.strerror or problem})"
    return f"failed ({type(problem).__name__}: {problem})"


def _server_address(server: object) -> str:
    """dnspython names a server ``Do53:192.0.2.53@53``; the address is what a person knows."""
    text = str(server)
    if text.startswith("Do53:"):
        text = text[len("Do53:") :].rpartition("@")[0] or text
    return text


def _server_problems(error: dns.resolver.NoNameservers) -> list[str]:
    texts: list[str] = []
    for entry in error.kwargs.get("errors") or ():
        try:
            server, tcp, port, problem = _server_address(entry[0]), entry[1], entry[2], entry[3]
        except (IndexError, TypeError):
            continue
        if isinstance(problem, dns.message.Truncated) and not tcp:
            continue  # a truncated UDP answer only makes dnspython ask again over TCP
        over = "TCP" if tcp else "UDP"
        text = f"{server} port {port} ({over}) {describe_server_problem(problem)}"
        if text not in texts:
            texts.append(text)
    return texts


def describe_query_error(
    rdtype: str, name: str, error: BaseException, nameservers: Sequence[str], lifetime: float
) -> str | None:
    """A sentence for a failed query of ``name``/``rdtype`` sent to ``nameservers``; None for a
    NoAnswer (the name exists without such records: the caller says what was missing)."""
    if isinstance(error, dns.resolver.NXDOMAIN):
        return f"{name} does not exist"
    if isinstance(error, dns.resolver.NoAnswer):
        if is_truncated(error):
            return f"the answer of {', '.join(nameservers)} for {rdtype} {name} was truncated, also over TCP"
        return None
    if isinstance(error, dns.exception.Timeout):
        return f"no answer from {', '.join(nameservers)} for {rdtype} {name} within {lifetime:g} s"
    if isinstance(error, dns.resolver.NoNameservers):
        problems = _server_problems(error)
        if problems:
            return f"{rdtype} {name}: {'; '.join(problems)}"
        return f"every nameserver failed for {rdtype} {name}"
    return f"{rdtype} {name} failed: {error}"


def is_truncated(error: BaseException) -> bool:
    """Whether an empty answer is empty because the server truncated it (TC) even over TCP."""
    response = error.kwargs.get("response") if isinstance(error, dns.exception.DNSException) else None
    return response is not None and bool(response.flags & dns.flags.TC)


def is_definitive(error: BaseException) -> bool:
    """Whether an authoritative server's failure is the truth about the name (NXDOMAIN, or an
    authoritative empty answer) rather than a reason to ask the configured nameservers."""
    if isinstance(error, dns.resolver.NXDOMAIN):
        return True
    if isinstance(error, dns.resolver.NoAnswer):
        response = error.kwargs.get("response")
        if response is None:
            return True
        if response.flags & dns.flags.TC:
            return False  # truncated even over TCP: not an answer
        return bool(response.flags & dns.flags.AA)  # without AA: a referral or a cache's guess
    return False
