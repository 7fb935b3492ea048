"""ICMP errors about our UDP datagrams, as Linux reports them on the socket error queue (sans-IO).

A UDP socket that is not connected hears nothing of the ICMP errors its datagrams cause unless
``IP_RECVERR`` (IPv4) or ``IPV6_RECVERR`` (IPv6) is set on it. With the option on, the kernel queues
one message per error, read with ``recvmsg(..., MSG_ERRQUEUE)``:

* the data is the start of the datagram that bounced (as much of it as the ICMP message quoted);
* the address (``msg_name``) is where that datagram was going;
* one control message, at level ``SOL_IP``/``IP_RECVERR`` or ``SOL_IPV6``/``IPV6_RECVERR``, holds a
  ``struct sock_extended_err`` (errno, origin, ICMP type and code, two 32-bit words) followed by the
  address of the node that sent the ICMP message (the destination host, or a router on the way).

`parse_error_message` turns what ``socket.recvmsg`` returned into an `ICMPReport`; nothing here
touches a socket. Whether an error is a transport failure is decided by the `VERDICTS` table, from
RFC 3261 §18.4: host, network, port or protocol unreachable and parameter problem are failures;
source quench and time exceeded are ignored. "Fragmentation needed" / "packet too big" only lower
the path MTU (the kernel acts on them) and errors of local origin are reported by the send itself,
so neither fails anything.
"""

from __future__ import annotations

import enum
import os
import socket
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._address import TransportAddress

__all__ = [
    "ERROR_ANCILLARY_SIZE",
    "ERROR_PAYLOAD_SIZE",
    "ICMPReport",
    "IPV6_RECVERR",
    "IP_RECVERR",
    "Origin",
    "VERDICTS",
    "Verdict",
    "parse_error_message",
]

#: setsockopt names from <linux/in.h> and <linux/in6.h> (Python 3.11's socket module lacks them)
IP_RECVERR = 11
IPV6_RECVERR = 25
_SOL_IP = socket.IPPROTO_IP
_SOL_IPV6 = socket.IPPROTO_IPV6
_RECVERR_LEVELS = frozenset({(_SOL_IP, IP_RECVERR), (_SOL_IPV6, IPV6_RECVERR)})

#: how much of a bounced datagram is read: enough to tell a request from a response and to log it
ERROR_PAYLOAD_SIZE = 512
#: room for one control message with a sock_extended_err and a sockaddr_in6
ERROR_ANCILLARY_SIZE = 256

#: struct sock_extended_err: ee_errno, ee_origin, ee_type, ee_code, ee_pad, ee_info, ee_data
_EXTENDED_ERR = struct.Struct("=IBBBBII")
_FAMILY = struct.Struct("=H")
_SOCKADDR_IN = struct.Struct("!H4s")  # after the family: port, address
_SOCKADDR_IN6 = struct.Struct("!HI16s")  # after the family: port, flow information, address


class Origin(enum.IntEnum):
    """``ee_origin``: who raised the error (SO_EE_ORIGIN_* in <linux/errqueue.h>)."""

    NONE = 0
    LOCAL = 1
    ICMP = 2
    ICMP6 = 3


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an ICMP message means for the SIP transport: a failure or not, and its name."""

    failure: bool
    text: str


#: (origin, ICMP type, ICMP code or None for every other code) -> verdict (RFC 792, RFC 4443)
VERDICTS: Mapping[tuple[Origin, int, int | None], Verdict] = {
    (Origin.ICMP, 3, 0): Verdict(True, "network unreachable"),
    (Origin.ICMP, 3, 1): Verdict(True, "host unreachable"),
    (Origin.ICMP, 3, 2): Verdict(True, "protocol unreachable"),
    (Origin.ICMP, 3, 3): Verdict(True, "port unreachable"),
    (Origin.ICMP, 3, 4): Verdict(False, "fragmentation needed"),
    (Origin.ICMP, 3, 13): Verdict(True, "communication administratively prohibited"),
    (Origin.ICMP, 3, None): Verdict(True, "destination unreachable"),
    (Origin.ICMP, 4, None): Verdict(False, "source quench"),
    (Origin.ICMP, 11, None): Verdict(False, "time exceeded"),
    (Origin.ICMP, 12, None): Verdict(True, "parameter problem"),
    (Origin.ICMP6, 1, 0): Verdict(True, "no route to destination"),
    (Origin.ICMP6, 1, 1): Verdict(True, "communication administratively prohibited"),
    (Origin.ICMP6, 1, 3): Verdict(True, "address unreachable"),
    (Origin.ICMP6, 1, 4): Verdict(True, "port unreachable"),
    (Origin.ICMP6, 1, None): Verdict(True, "destination unreachable"),
    (Origin.ICMP6, 2, None): Verdict(False, "packet too big"),
    (Origin.ICMP6, 3, None): Verdict(False, "time exceeded"),
    (Origin.ICMP6, 4, None): Verdict(True, "parameter problem"),
}


def _verdict(origin: int, icmp_type: int, code: int, error: int) -> Verdict:
    if origin in (Origin.ICMP, Origin.ICMP6):
        key = Origin(origin), icmp_type
        found = VERDICTS.get((*key, code)) or VERDICTS.get((*key, None))
        if found is not None:
            return found
        return Verdict(False, f"ICMP{'v6' if origin == Origin.ICMP6 else ''} type {icmp_type} code {code}")
    return Verdict(False, f"local error: {_strerror(error)}")


def _strerror(error: int) -> str:
    try:
        return os.strerror(error)
    except (ValueError, OverflowError):  # an errno no C int can hold
        return f"errno {error}"


@dataclass(frozen=True, slots=True)
class ICMPReport:
    """One error from the queue: a datagram we sent to ``destination`` bounced.

    ``offender`` is the node that said so (None when the kernel did not name one), ``payload`` the
    start of the datagram as quoted back (possibly empty: an ICMPv4 message need quote only the UDP
    header), ``failure`` whether RFC 3261 §18.4 counts it as a transport failure and ``description``
    what happened, in words.
    """

    destination: TransportAddress
    offender: str | None
    origin: int
    icmp_type: int
    icmp_code: int
    errno: int
    payload: bytes
    failure: bool
    description: str

    @property
    def about_response(self) -> bool:
        """Whether the bounced datagram was a SIP response (its start line begins ``SIP/``)."""
        return self.payload[:4].upper() == b"SIP/"

    def __str__(self) -> str:
        where = f" from {self.offender}" if self.offender else ""
        return f"{self.description} (ICMP{where})" if self.origin != Origin.LOCAL else self.description


def _sockaddr(data: bytes) -> str | None:
    """The IP address of a sockaddr_in/sockaddr_in6 (the offender), or None (AF_UNSPEC, short)."""
    if len(data) < _FAMILY.size:
        return None
    (family,) = _FAMILY.unpack_from(data)
    rest = data[_FAMILY.size :]
    if family == socket.AF_INET and len(rest) >= _SOCKADDR_IN.size:
        _, packed = _SOCKADDR_IN.unpack_from(rest)
        return socket.inet_ntop(socket.AF_INET, packed)
    if family == socket.AF_INET6 and len(rest) >= _SOCKADDR_IN6.size:
        _, _, packed = _SOCKADDR_IN6.unpack_from(rest)
        return socket.inet_ntop(socket.AF_INET6, packed)
    return None


def parse_error_message(
    data: bytes, ancdata: Iterable[tuple[int, int, bytes]], flags: int, address: Any
) -> ICMPReport | None:
    """The report in one ``recvmsg(..., MSG_ERRQUEUE)`` result, or None when it holds no extended
    error (no IP_RECVERR/IPV6_RECVERR control message, one cut short) or no destination address.

    ``address`` is what Python made of ``msg_name``: ``(host, port)`` or ``(host, port, flow,
    scope)``. ``flags`` is accepted for symmetry with recvmsg and not needed.
    """
    if not isinstance(address, tuple) or len(address) < 2:
        return None
    for level, kind, payload in ancdata:
        if (level, kind) not in _RECVERR_LEVELS or len(payload) < _EXTENDED_ERR.size:
            continue
        error, origin, icmp_type, code, _pad, _info, _data = _EXTENDED_ERR.unpack_from(payload)
        verdict = _verdict(origin, icmp_type, code, error)
        host = str(address[0]).partition("%")[0]  # a link-local scope suffix is not part of the address
        try:
            destination = TransportAddress("udp", host, int(address[1]))
        except (TypeError, ValueError):
            return None
        return ICMPReport(
            destination=destination,
            offender=_sockaddr(payload[_EXTENDED_ERR.size :]),
            origin=origin,
            icmp_type=icmp_type,
            icmp_code=code,
            errno=error,
            payload=bytes(data),
            failure=verdict.failure,
            description=verdict.text,
        )
    return None
