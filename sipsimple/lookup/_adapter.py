"""The core's route-resolver role, answered with RFC 3263: lets the request primitives
(``Registration(..., resolver=DNSRouteResolver(...))``) use NAPTR/SRV/A lookups instead of plain A."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred
from zope.interface import implementer

from sipsimple.core.primitives.route import Hop, IRouteResolver, ResolutionError
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import BaseSIPURI

from ._lookup import DNSLookup
from ._route import Route

__all__ = ["DNSRouteResolver", "hops_of"]


def hops_of(routes: Sequence[Route]) -> list[Hop]:
    """The core's ``Hop`` candidates for lookup routes, in the same order."""
    return [
        Hop(TransportAddress(route.transport, route.address, route.port), route.tls_name)  # type: ignore[arg-type]
        for route in routes
    ]


@implementer(IRouteResolver)
class DNSRouteResolver:
    """``resolve(uri)`` with ``DNSLookup.lookup_sip_proxy`` for the transports the engine offers."""

    def __init__(self, supported_transports: Sequence[str], lookup: DNSLookup | None = None) -> None:
        self.supported_transports = list(supported_transports)
        self.lookup = lookup if lookup is not None else DNSLookup()

    def resolve(self, uri: BaseSIPURI) -> Deferred[list[Hop]]:
        deferred: Deferred[Any] = self.lookup.lookup_sip_proxy(uri, self.supported_transports).as_deferred()

        def failed(failure: Any) -> Any:
            raise ResolutionError(str(failure.value)) from failure.value

        return deferred.addCallbacks(hops_of, failed)
