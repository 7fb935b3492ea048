"""Errors a send can fail with. Every one is a `TransportError` with a reason a person can act on."""

from __future__ import annotations

__all__ = [
    "ConnectionClosed",
    "ConnectionFailed",
    "ConnectionRefused",
    "MessageTooLarge",
    "TLSVerificationFailed",
    "TransportError",
]


class TransportError(Exception):
    """A message could not be handed to the network."""


class ConnectionFailed(TransportError):
    """No connection could be made (refused, unreachable, timed out, TLS handshake failed), or there
    is no listener to send a datagram from."""


class ConnectionRefused(ConnectionFailed):
    """The remote end turned the connection down before anything was written: a TCP reset to our
    SYN (nothing listens there) or an ICMP unreachable. RFC 3261 §18.1.1 retries a request over UDP
    on this error when it went over TCP only for its size."""


class TLSVerificationFailed(ConnectionFailed):
    """The server's certificate did not verify (untrusted chain, or not issued for the SIP domain)."""


class ConnectionClosed(TransportError):
    """The connection closed (or the manager stopped) before the message was written, or there is no
    connection to reuse when the caller asked not to open one."""


class MessageTooLarge(TransportError):
    """The message is larger than the configured limit or than a datagram can carry."""
