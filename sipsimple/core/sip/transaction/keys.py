"""Transaction matching keys (RFC 3261 §17.1.3, §17.2.3, §9.2), as pure functions of primitives.

The transaction layer keeps one table per side, keyed by these values; a message whose key is in
the table belongs to that transaction (a response, a retransmission, an ACK or a CANCEL target).
The functions take the few values that matter, already parsed, never a message object:

* client side (§17.1.3): a response matches the client transaction whose request had the same
  top-Via ``branch`` and whose method equals the response's CSeq method. The method is needed
  because a CANCEL shares its branch with the INVITE it cancels.
* server side (§17.2.3): a request matches the server transaction created by a request with the
  same top-Via ``branch``, the same top-Via sent-by (``host``, ``port``) and the same method,
  except that an ACK matches the INVITE transaction. Sent-by is part of the key because two
  clients may, by accident or malice, choose the same branch.
* CANCEL (§9.2): a CANCEL is its own server transaction (its key has method CANCEL); the request
  it cancels is found with :func:`cancel_target_key`: the same branch and sent-by, method INVITE.

Comparison rules: the branch is a token and compared ignoring case (§7.3.1); the host ignoring
case; the port as given (``None`` when the Via has no port: a retransmission repeats the Via, so
absent stays absent); the method case-sensitively (§7.1).

Only the RFC 3261 path is implemented: a branch that does not start with the magic cookie
``z9hG4bK`` (an RFC 2543 peer, or no branch at all) gives ``None`` instead of a key. RFC 2543
matching (Request-URI, To tag, From tag, Call-ID, CSeq and top Via compared whole) is not
implemented. The driver decides what to do: discard such a response (it cannot be ours: we always
send cookie branches), and either reject such a request or treat it as a new transaction, in which
case its retransmissions also reach the TU as new requests.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "MAGIC_COOKIE",
    "ClientKey",
    "ServerKey",
    "cancel_target_key",
    "client_key",
    "is_rfc3261_branch",
    "request_matches",
    "response_matches",
    "server_key",
]

MAGIC_COOKIE = "z9hG4bK"


class ClientKey(NamedTuple):
    """Identifies a client transaction: top-Via branch (lower-cased) and request method."""

    branch: str
    method: str


class ServerKey(NamedTuple):
    """Identifies a server transaction: top-Via branch (lower-cased), sent-by and method."""

    branch: str
    host: str
    port: int | None
    method: str


def is_rfc3261_branch(branch: str | None) -> bool:
    """True when ``branch`` starts with the RFC 3261 magic cookie (ignoring case) and has more."""
    return (
        branch is not None
        and len(branch) > len(MAGIC_COOKIE)
        and branch[: len(MAGIC_COOKIE)].lower() == MAGIC_COOKIE.lower()
    )


def client_key(branch: str | None, method: str) -> ClientKey | None:
    """The key of a client transaction.

    For the request we send: its top-Via branch and its method. For a response received: its
    top-Via branch and the method of its CSeq. ``None`` when the branch has no magic cookie.
    """
    if not is_rfc3261_branch(branch):
        return None
    assert branch is not None
    return ClientKey(branch.lower(), method)


def server_key(branch: str | None, host: str, port: int | None, method: str) -> ServerKey | None:
    """The key of the server transaction a received request belongs to (or creates).

    Pass the top-Via branch and sent-by host/port and the request method. An ACK gets the key of
    the INVITE transaction it acknowledges (for a non-2xx; an ACK for a 2xx carries a branch of
    its own and so matches nothing, and goes to the core). ``None`` when the branch has no magic
    cookie (RFC 2543 matching is not implemented; see the module notes).
    """
    if not is_rfc3261_branch(branch):
        return None
    assert branch is not None
    return ServerKey(branch.lower(), host.lower(), port, "INVITE" if method == "ACK" else method)


def cancel_target_key(branch: str | None, host: str, port: int | None) -> ServerKey | None:
    """The key of the INVITE server transaction that a CANCEL with these top-Via values cancels.

    §9.2 lets a CANCEL target a request of any method but CANCEL and ACK; only INVITE has an
    effect worth finding (a non-INVITE is answered at once), so the key is the INVITE's.
    """
    return server_key(branch, host, port, "INVITE")


def response_matches(key: ClientKey, branch: str | None, cseq_method: str) -> bool:
    """Whether a response with this top-Via branch and CSeq method belongs to transaction ``key``."""
    return client_key(branch, cseq_method) == key


def request_matches(key: ServerKey, branch: str | None, host: str, port: int | None, method: str) -> bool:
    """Whether a received request (a retransmission, or the ACK for an INVITE's non-2xx) belongs
    to server transaction ``key``."""
    return server_key(branch, host, port, method) == key
