"""Out-of-dialog request primitives: ``Request``, ``Message``, ``Registration``, ``Publication``.

They sit on the Engine (``engine.send_request``) and share ``_client.ClientRequest``: route
resolution (``route.py``, the seam for RFC 3263), digest authentication, failover to the next
address, and the 408/503 mapping of timeouts and transport failures. Registration and Publication
also share ``_binding`` (refresh, expiry, end). See docs/sip-primitives.md.
"""

from ._client import EXPIRY_WARNING, refresh_delay
from .incoming_referral import IncomingReferral
from .incoming_subscription import IncomingSubscription, install_incoming_handlers
from .invitation import Invitation, install_invitation_handler
from .message import Message
from .publication import Publication
from .referral import Referral
from .registration import Registration
from .request import Request
from .route import Hop, HostResolver, IRouteResolver, ResolutionError, RouteResolver, StaticResolver
from .subscription import Subscription

__all__ = [
    "EXPIRY_WARNING",
    "HostResolver",
    "Hop",
    "IRouteResolver",
    "IncomingReferral",
    "IncomingSubscription",
    "Invitation",
    "Message",
    "Publication",
    "Referral",
    "Registration",
    "Request",
    "ResolutionError",
    "RouteResolver",
    "StaticResolver",
    "Subscription",
    "install_incoming_handlers",
    "install_invitation_handler",
    "refresh_delay",
]
