"""The error-queue parser (sans-IO): the bytes of a ``struct sock_extended_err`` and the offender's
sockaddr, as ``socket.recvmsg(..., MSG_ERRQUEUE)`` returns them, become an `ICMPReport`; the
RFC 3261 §18.4 verdict comes from the table."""

from __future__ import annotations

import errno
import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipsimple.core.sip.transport import DestinationUnreachable, ICMPReport, TransportAddress
from sipsimple.core.sip.transport._icmp import (
    IP_RECVERR,
    IPV6_RECVERR,
    VERDICTS,
    Origin,
    parse_error_message,
)

OPTIONS = b"OPTIONS sip:bob@127.0.0.1:5999 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa\r\n"
RESPONSE = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKb\r\n"


def extended_err(error: int, origin: int, icmp_type: int, code: int) -> bytes:
    """struct sock_extended_err in the machine's byte order (errno, origin, type, code, pad, info, data)."""
    return struct.pack("=IBBBBII", error, origin, icmp_type, code, 0, 0, 0)


def sockaddr_in(host: str) -> bytes:
    return (
        struct.pack("=H", socket.AF_INET)
        + struct.pack("!H", 0)
        + socket.inet_pton(socket.AF_INET, host)
        + bytes(8)
    )


def sockaddr_in6(host: str) -> bytes:
    return (
        struct.pack("=H", socket.AF_INET6)
        + struct.pack("!HI", 0, 0)
        + socket.inet_pton(socket.AF_INET6, host)
        + struct.pack("=I", 0)
    )


def test_an_ipv4_port_unreachable_becomes_a_failure_report_for_the_destination():
    """IPv4 type 3 code 3 with errno ECONNREFUSED: the report names the destination of the bounced
    datagram (msg_name), the host that sent the ICMP message, and counts as a transport failure."""
    cmsg = extended_err(errno.ECONNREFUSED, Origin.ICMP, 3, 3) + sockaddr_in("127.0.0.1")
    report = parse_error_message(OPTIONS, [(socket.IPPROTO_IP, IP_RECVERR, cmsg)], 0, ("127.0.0.1", 5999))
    assert report == ICMPReport(
        destination=TransportAddress("udp", "127.0.0.1", 5999),
        offender="127.0.0.1",
        origin=Origin.ICMP,
        icmp_type=3,
        icmp_code=3,
        errno=errno.ECONNREFUSED,
        payload=OPTIONS,
        failure=True,
        description="port unreachable",
    )
    assert not report.about_response
    assert str(report) == "port unreachable (ICMP from 127.0.0.1)"
    error = DestinationUnreachable(report)
    assert str(error) == "port unreachable (ICMP from 127.0.0.1)" and error.report is report


def test_an_ipv6_port_unreachable_drops_the_flow_and_scope_of_the_destination():
    """ICMPv6 type 1 code 4 at level IPPROTO_IPV6/IPV6_RECVERR; msg_name has four fields."""
    cmsg = extended_err(errno.ECONNREFUSED, Origin.ICMP6, 1, 4) + sockaddr_in6("2001:db8::1")
    report = parse_error_message(
        OPTIONS, [(socket.IPPROTO_IPV6, IPV6_RECVERR, cmsg)], socket.MSG_ERRQUEUE, ("::1", 5999, 0, 0)
    )
    assert report is not None
    assert report.destination == TransportAddress("udp", "::1", 5999)
    assert (report.offender, report.failure, report.description) == ("2001:db8::1", True, "port unreachable")


def test_a_link_local_destination_loses_its_scope_suffix():
    cmsg = extended_err(errno.EHOSTUNREACH, Origin.ICMP6, 1, 3) + sockaddr_in6("fe80::2")
    report = parse_error_message(
        b"", [(socket.IPPROTO_IPV6, IPV6_RECVERR, cmsg)], 0, ("fe80::1%lo", 5060, 0, 1)
    )
    assert report is not None and report.destination.host == "fe80::1"
    assert report.description == "address unreachable" and report.failure


def test_a_bounced_response_is_recognised_by_its_status_line():
    """What the stack needs to ignore errors about responses (RFC 3261 §18.4 concerns requests)."""
    cmsg = extended_err(errno.ECONNREFUSED, Origin.ICMP, 3, 3) + sockaddr_in("127.0.0.1")
    report = parse_error_message(RESPONSE, [(socket.IPPROTO_IP, IP_RECVERR, cmsg)], 0, ("127.0.0.1", 5999))
    assert report is not None and report.about_response


def test_an_empty_quote_is_not_taken_for_a_response():
    """An ICMPv4 message may quote only the UDP header: nothing says it was a response."""
    cmsg = extended_err(errno.ECONNREFUSED, Origin.ICMP, 3, 3) + sockaddr_in("192.0.2.1")
    report = parse_error_message(b"", [(socket.IPPROTO_IP, IP_RECVERR, cmsg)], 0, ("192.0.2.9", 5060))
    assert report is not None and not report.about_response and report.offender == "192.0.2.1"


@pytest.mark.parametrize(
    ("origin", "icmp_type", "code", "failure", "description"),
    [
        (Origin.ICMP, 3, 0, True, "network unreachable"),
        (Origin.ICMP, 3, 1, True, "host unreachable"),
        (Origin.ICMP, 3, 2, True, "protocol unreachable"),
        (Origin.ICMP, 3, 4, False, "fragmentation needed"),
        (Origin.ICMP, 3, 10, True, "destination unreachable"),
        (Origin.ICMP, 3, 13, True, "communication administratively prohibited"),
        (Origin.ICMP, 4, 0, False, "source quench"),
        (Origin.ICMP, 11, 0, False, "time exceeded"),
        (Origin.ICMP, 12, 0, True, "parameter problem"),
        (Origin.ICMP, 5, 1, False, "ICMP type 5 code 1"),
        (Origin.ICMP6, 1, 0, True, "no route to destination"),
        (Origin.ICMP6, 1, 6, True, "destination unreachable"),
        (Origin.ICMP6, 2, 0, False, "packet too big"),
        (Origin.ICMP6, 3, 1, False, "time exceeded"),
        (Origin.ICMP6, 4, 2, True, "parameter problem"),
    ],
)
def test_rfc_3261_section_18_4_decides_which_icmp_errors_fail_a_request(
    origin, icmp_type, code, failure, description
):
    """Unreachable and parameter problem fail; source quench, time exceeded and the path-MTU
    messages do not; an unknown type is reported but fails nothing."""
    level, kind = (
        (socket.IPPROTO_IP, IP_RECVERR) if origin == Origin.ICMP else (socket.IPPROTO_IPV6, IPV6_RECVERR)
    )
    cmsg = extended_err(errno.EHOSTUNREACH, origin, icmp_type, code) + bytes(28)
    report = parse_error_message(OPTIONS, [(level, kind, cmsg)], 0, ("192.0.2.9", 5060))
    assert report is not None
    assert (report.failure, report.description) == (failure, description)
    assert report.offender is None  # an AF_UNSPEC offender


def test_a_local_error_is_reported_without_failing_and_without_an_offender():
    """ee_origin LOCAL (a send the kernel refused, e.g. EMSGSIZE): the send said so itself."""
    cmsg = extended_err(errno.EMSGSIZE, Origin.LOCAL, 0, 0) + bytes(16)
    report = parse_error_message(OPTIONS, [(socket.IPPROTO_IP, IP_RECVERR, cmsg)], 0, ("127.0.0.1", 5060))
    assert report is not None and not report.failure
    assert str(report) == f"local error: {__import__('os').strerror(errno.EMSGSIZE)}"


def test_messages_without_an_extended_error_give_no_report():
    """Another control message, a cut-short one, or no usable msg_name: None, not an exception."""
    good = extended_err(errno.ECONNREFUSED, Origin.ICMP, 3, 3) + sockaddr_in("127.0.0.1")
    assert parse_error_message(OPTIONS, [], 0, ("127.0.0.1", 5060)) is None
    assert parse_error_message(OPTIONS, [(socket.IPPROTO_IP, 8, good)], 0, ("127.0.0.1", 5060)) is None
    assert (
        parse_error_message(OPTIONS, [(socket.IPPROTO_IP, IP_RECVERR, good[:15])], 0, ("127.0.0.1", 1))
        is None
    )
    assert parse_error_message(OPTIONS, [(socket.IPPROTO_IP, IP_RECVERR, good)], 0, None) is None
    assert (
        parse_error_message(OPTIONS, [(socket.IPPROTO_IP, IP_RECVERR, good)], 0, ("127.0.0.1", 70000)) is None
    )


def test_a_short_offender_address_is_left_out():
    cmsg = extended_err(errno.ECONNREFUSED, Origin.ICMP, 3, 3) + sockaddr_in("127.0.0.1")[:6]
    report = parse_error_message(OPTIONS, [(socket.IPPROTO_IP, IP_RECVERR, cmsg)], 0, ("127.0.0.1", 5060))
    assert report is not None and report.offender is None


def test_every_verdict_row_names_its_error():
    assert all(verdict.text for verdict in VERDICTS.values())


@given(
    data=st.binary(max_size=64),
    cmsg=st.binary(max_size=64),
    level=st.sampled_from([socket.IPPROTO_IP, socket.IPPROTO_IPV6]),
    kind=st.sampled_from([IP_RECVERR, IPV6_RECVERR]),
    port=st.integers(0, 70000),
)
def test_any_bytes_give_a_report_or_none_and_never_raise(data, cmsg, level, kind, port):
    report = parse_error_message(data, [(level, kind, cmsg)], 0, ("127.0.0.1", port))
    assert report is None or report.destination.port == port
