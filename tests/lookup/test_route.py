"""Route: attributes, the SIP URI it gives, equality and representation."""

from __future__ import annotations

import pytest

from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route


def test_get_uri_carries_address_port_and_transport() -> None:
    uri = Route("192.0.2.1", port=5061, transport="TLS", tls_name="example.test").get_uri()
    assert isinstance(uri, SIPURI)
    assert str(uri) == "sip:192.0.2.1:5061;transport=tls"


def test_get_uri_without_port_and_for_ipv6() -> None:
    assert str(Route("192.0.2.1").get_uri()) == "sip:192.0.2.1;transport=udp"
    assert str(Route("::1", 5060, "tcp").get_uri()) == "sip:[::1]:5060;transport=tcp"


def test_transport_is_lowercased_and_checked_also_when_set_later() -> None:
    route = Route("192.0.2.1", transport="TCP")
    assert route.transport == "tcp"
    with pytest.raises(ValueError, match="transport"):
        route.transport = "sctp"


def test_routes_are_equal_when_every_attribute_is() -> None:
    assert Route("192.0.2.1", 5060, "udp") == Route("192.0.2.1", 5060, "UDP")
    assert Route("192.0.2.1", 5060, "udp") != Route("192.0.2.1", 5061, "udp")
    assert Route("192.0.2.1", 5061, "tls", "a.test") != Route("192.0.2.1", 5061, "tls", "b.test")


def test_repr_shows_the_attributes() -> None:
    text = repr(Route("192.0.2.1", 5061, "tls", "example.test"))
    assert text == "Route('192.0.2.1', port=5061, transport='tls', tls_name='example.test')"
