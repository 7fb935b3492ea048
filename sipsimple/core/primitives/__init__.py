"""Out-of-dialog request primitives: ``Request``, ``Message``, ``Registration``, ``Publication``.

They sit on the Engine (``engine.send_request``) and share ``_client.ClientRequest``: route
resolution (``route.py``, the seam for RFC 3263), digest authentication, failover to the next
address, and the 408/503 mapping of timeouts and transport failures. Registration and Publication
also share ``_binding`` (refresh, expiry, end). See docs/sip-primitives.md.
"""

from ._client import EXPIRY_WARNING, refresh_delay
from .message import Message
from .publication import Publication
from .registration import Registration
from .request import Request
from .route import Hop, HostResolver, IRouteResolver, ResolutionError, RouteResolver, StaticResolver

__all__ = [
    "EXPIRY_WARNING",
    "HostResolver",
    "Hop",
    "IRouteResolver",
    "Message",
    "Publication",
    "Registration",
    "Request",
    "ResolutionError",
    "RouteResolver",
    "StaticResolver",
    "refresh_delay",
]
