"""Route: attributes, the SIP URI it gives, equality and representation."""

from __future__ import annotations

import subprocess
import sys

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


def test_route_is_also_sipsimple_util_route_one_class() -> None:
    import sipsimple.util

    assert sipsimple.util.Route is Route
    with pytest.raises(AttributeError, match="no attribute 'Nowhere'"):
        sipsimple.util.Nowhere  # noqa: B018


def test_sipsimple_util_route_imports_first_in_a_fresh_interpreter() -> None:
    """The lazy re-export needs no import order: util first, then Route, without a cycle."""
    code = "from sipsimple.util import Route; print(Route('192.0.2.1', 5060, 'tcp'))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "tcp:192.0.2.1:5060"), result.stderr
