"""TransportAddress: validation, normalisation, and the ``str()``/``parse`` round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipsimple.core.sip.transport import TransportAddress


def test_str_brackets_ipv6_hosts_only() -> None:
    assert str(TransportAddress("udp", "::1", 5060)) == "udp:[::1]:5060"
    assert str(TransportAddress("tls", "192.0.2.1", 5061)) == "tls:192.0.2.1:5061"
    assert str(TransportAddress("tcp", "Example.COM", 5060)) == "tcp:example.com:5060"


def test_hosts_are_normalised_so_equal_addresses_compare_equal() -> None:
    """Brackets are dropped and IPv6 literals compressed: these are all one address (and one hash)."""
    spellings = [TransportAddress("tcp", h, 5060) for h in ("::1", "[::1]", "0:0:0:0:0:0:0:1", "::0001")]
    assert {a.host for a in spellings} == {"::1"} and len(set(spellings)) == 1
    assert TransportAddress("UDP", "::1", 1).transport == "udp"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "transport, host, port",
    [("sctp", "::1", 1), ("udp", "", 1), ("udp", "::1", -1), ("udp", "::1", 65536), ("udp", "a b", 1),
     ("udp", "::1", True), ("udp", "::1", "5060")],
)  # fmt: skip
def test_invalid_parts_are_rejected(transport: str, host: str, port: object) -> None:
    with pytest.raises(ValueError):
        TransportAddress(transport, host, port)  # type: ignore[arg-type]


def test_family_and_stream_properties() -> None:
    assert TransportAddress("udp", "::1", 1).family == 6
    assert TransportAddress("udp", "127.0.0.1", 1).family == 4
    assert TransportAddress("udp", "example.com", 1).family is None
    assert TransportAddress("tls", "::1", 1).is_stream and not TransportAddress("udp", "::1", 1).is_stream
    assert TransportAddress("udp", "::1", 5).with_transport("tcp") == TransportAddress("tcp", "::1", 5)


def test_the_address_is_frozen() -> None:
    address = TransportAddress("udp", "::1", 1)
    with pytest.raises(AttributeError):
        address.port = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "text", ["udp", "udp:", "udp:[::1]", "udp:[::1]5060", "udp:::1:5060", "udp:host:port"]
)
def test_parse_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        TransportAddress.parse(text)


@given(
    st.sampled_from(["udp", "tcp", "tls"]),
    st.one_of(
        st.ip_addresses().map(str), st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}", fullmatch=True)
    ),
    st.integers(0, 65535),
)
def test_parse_reads_back_what_str_writes(transport: str, host: str, port: int) -> None:
    address = TransportAddress(transport, host, port)  # type: ignore[arg-type]
    assert TransportAddress.parse(str(address)) == address
