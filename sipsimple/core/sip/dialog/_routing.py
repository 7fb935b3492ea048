"""Route sets and request targets (RFC 3261 §12.1.1, §12.1.2, §12.2.1.1).

* The route set is the Record-Route of the dialog-creating message, as Route values with every
  parameter kept: in message order at the UAS (and for a dialog created by a NOTIFY), reversed
  at the UAC.
* A request in the dialog goes to the remote target through the route set. When the first
  route is a loose router (``lr``), the Request-URI is the remote target and the Route header is
  the route set. When it is a strict router (RFC 2543), the Request-URI is the first route's URI
  (without the parts a Request-URI may not have), and the Route header is the rest of the route
  set followed by the remote target. Either way the message goes first to the first route's URI
  (to the remote target without a route set): the *next hop*, which the caller resolves to an
  address (RFC 3263).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sipsimple.core.sip._grammar import SIPParseError, find_key
from sipsimple.core.sip.headers import FrozenRouteHeader
from sipsimple.core.sip.transaction import RemoteProtocolError
from sipsimple.core.sip.uri import BaseSIPURI, FrozenSIPURI

__all__ = ["contact_target", "is_loose", "request_target", "route_set_from", "request_uri_form"]


def _sip_uri(uri: Any, what: str) -> FrozenSIPURI:
    if not isinstance(uri, BaseSIPURI):
        raise RemoteProtocolError(f"{what} is not a sip: or sips: URI: {uri}")
    return FrozenSIPURI.new(uri)


def route_set_from(record_routes: Iterable[Any], *, reverse: bool) -> list[FrozenRouteHeader]:
    """Route values for the Record-Route values ``record_routes`` (their URIs must be SIP)."""
    routes = [
        FrozenRouteHeader(_sip_uri(rr.uri, "a Record-Route"), rr.display_name, rr.parameters)
        for rr in record_routes
    ]
    if reverse:
        routes.reverse()
    return routes


def record_routes_of(message: Any) -> list[Any]:
    """Every Record-Route value of ``message``; a malformed one is the peer's RemoteProtocolError."""
    try:
        return message.get_all("Record-Route")
    except SIPParseError as e:
        raise RemoteProtocolError(f"malformed Record-Route: {e}") from None


def contact_target(message: Any) -> FrozenSIPURI | None:
    """The URI of the first Contact of ``message`` (None when it has none).

    A malformed Contact, the wildcard or a non-SIP URI is the peer's RemoteProtocolError.
    """
    try:
        contact = message.get("Contact")
    except SIPParseError as e:
        raise RemoteProtocolError(f"malformed Contact: {e}") from None
    if contact is None:
        return None
    if contact.uri is None:
        raise RemoteProtocolError("a wildcard Contact cannot be a remote target")
    return _sip_uri(contact.uri, "the Contact")


def is_loose(route: Any) -> bool:
    """True when the route's URI has the ``lr`` parameter (a loose router, RFC 3261 §19.1.1)."""
    return find_key(route.uri.parameters, "lr") is not None


def request_uri_form(uri: BaseSIPURI) -> FrozenSIPURI:
    """``uri`` without what a Request-URI may not carry: the ``method`` parameter and headers
    (RFC 3261 §19.1.1, Table 1)."""
    method = find_key(uri.parameters, "method")
    if method is None and not uri.headers:
        return FrozenSIPURI.new(uri)
    parameters = {name: value for name, value in uri.parameters.items() if name != method}
    return FrozenSIPURI(uri.host, uri.user, uri.password, uri.port, uri.secure, parameters, {})


def request_target(
    remote_target: FrozenSIPURI, route_set: Sequence[FrozenRouteHeader]
) -> tuple[FrozenSIPURI, list[FrozenRouteHeader], FrozenSIPURI]:
    """(Request-URI, Route values, next hop URI) for a request in the dialog (§12.2.1.1)."""
    if not route_set:
        request_uri = request_uri_form(remote_target)
        return request_uri, [], request_uri
    first = route_set[0]
    first_uri = _sip_uri(first.uri, "a route")
    if is_loose(first):
        return request_uri_form(remote_target), list(route_set), first_uri
    request_uri = request_uri_form(first_uri)
    routes = [*route_set[1:], FrozenRouteHeader(remote_target)]
    return request_uri, routes, request_uri
