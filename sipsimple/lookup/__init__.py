"""DNS lookups for SIP (RFC 3263), STUN and MSRP relays (SRV) and XCAP servers (TXT).

`DNSLookup` does the lookups (asking the domain's authoritative nameservers first, and skipping
nonsense in the answers), `DNSManager` holds the nameservers they use, and `Route` is what a SIP
proxy lookup returns. See docs/lookup.md.
"""

from ._adapter import DNSRouteResolver, hops_of
from ._authority import NameserverCache
from ._lookup import SERVICES, DNSLookup, DNSLookupError
from ._manager import DNSManager
from ._resolver import DNSResolver, IQueryResolver, ResolverConfiguration
from ._rfc3263 import NaptrRecord, SelectionError, SrvRecord
from ._route import Route

__all__ = [
    "SERVICES",
    "DNSLookup",
    "DNSLookupError",
    "DNSManager",
    "DNSResolver",
    "DNSRouteResolver",
    "IQueryResolver",
    "NameserverCache",
    "NaptrRecord",
    "ResolverConfiguration",
    "Route",
    "SelectionError",
    "SrvRecord",
    "hops_of",
]
