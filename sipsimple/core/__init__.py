"""The Engine: SIP signalling and media, C-accelerated where it is hot.

The public names of the core, as in the reference SDK's ``sipsimple.core``: the Engine, URIs,
credentials, the header classes (each with its Frozen variant), the request primitives, the SDP
model and SDPNegotiator, and the core's exceptions. They are imported on first use (PEP 562), so
that importing a sans-IO part such as ``sipsimple.core.sip.uri`` does not load the Engine,
Twisted's TLS support and the primitives.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sipsimple.core._errors import SIPCoreError, SIPCoreInvalidStateError

if TYPE_CHECKING:
    from sipsimple.core.engine import Engine
    from sipsimple.core.primitives import (
        IncomingReferral,
        IncomingSubscription,
        Invitation,
        Message,
        Publication,
        Referral,
        Registration,
        Request,
        Subscription,
    )
    from sipsimple.core.sdp import (
        FrozenSDPAttribute,
        FrozenSDPAttributeList,
        FrozenSDPBandwidthInfo,
        FrozenSDPConnection,
        FrozenSDPMediaStream,
        FrozenSDPSession,
        SDPAttribute,
        SDPAttributeList,
        SDPBandwidthInfo,
        SDPConnection,
        SDPMediaStream,
        SDPNegotiator,
        SDPSession,
    )
    from sipsimple.core.sip.credentials import Credentials, FrozenCredentials
    from sipsimple.core.sip.headers import (
        BaseHeader,
        ContactHeader,
        ContentTypeHeader,
        CSeqHeader,
        EventHeader,
        ExpiresHeader,
        FromHeader,
        FrozenContactHeader,
        FrozenContentTypeHeader,
        FrozenCSeqHeader,
        FrozenEventHeader,
        FrozenExpiresHeader,
        FrozenFromHeader,
        FrozenHeader,
        FrozenMaxForwardsHeader,
        FrozenMinExpiresHeader,
        FrozenReasonHeader,
        FrozenRecordRouteHeader,
        FrozenReferToHeader,
        FrozenReplacesHeader,
        FrozenRetryAfterHeader,
        FrozenRouteHeader,
        FrozenSubjectHeader,
        FrozenSubscriptionStateHeader,
        FrozenToHeader,
        FrozenViaHeader,
        FrozenWarningHeader,
        Header,
        MaxForwardsHeader,
        MinExpiresHeader,
        ReasonHeader,
        RecordRouteHeader,
        ReferToHeader,
        ReplacesHeader,
        RetryAfterHeader,
        RouteHeader,
        SubjectHeader,
        SubscriptionStateHeader,
        ToHeader,
        ViaHeader,
        WarningHeader,
    )
    from sipsimple.core.sip.uri import SIPURI, FrozenSIPURI


_MODULES = {
    "Engine": "sipsimple.core.engine",
    "Message": "sipsimple.core.primitives",
    "Publication": "sipsimple.core.primitives",
    "Registration": "sipsimple.core.primitives",
    "Request": "sipsimple.core.primitives",
    "Subscription": "sipsimple.core.primitives",
    "IncomingSubscription": "sipsimple.core.primitives",
    "Referral": "sipsimple.core.primitives",
    "IncomingReferral": "sipsimple.core.primitives",
    "Invitation": "sipsimple.core.primitives",
    "Credentials": "sipsimple.core.sip.credentials",
    "FrozenCredentials": "sipsimple.core.sip.credentials",
    "SIPURI": "sipsimple.core.sip.uri",
    "FrozenSIPURI": "sipsimple.core.sip.uri",
    "FrozenSDPAttribute": "sipsimple.core.sdp",
    "FrozenSDPAttributeList": "sipsimple.core.sdp",
    "FrozenSDPBandwidthInfo": "sipsimple.core.sdp",
    "FrozenSDPConnection": "sipsimple.core.sdp",
    "FrozenSDPMediaStream": "sipsimple.core.sdp",
    "FrozenSDPSession": "sipsimple.core.sdp",
    "SDPAttribute": "sipsimple.core.sdp",
    "SDPAttributeList": "sipsimple.core.sdp",
    "SDPBandwidthInfo": "sipsimple.core.sdp",
    "SDPConnection": "sipsimple.core.sdp",
    "SDPMediaStream": "sipsimple.core.sdp",
    "SDPNegotiator": "sipsimple.core.sdp",
    "SDPSession": "sipsimple.core.sdp",
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = _MODULES[name]
    elif name.endswith("Header") and name in __all__:
        module = "sipsimple.core.sip.headers"
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "SIPURI",
    "BaseHeader",
    "CSeqHeader",
    "ContactHeader",
    "ContentTypeHeader",
    "Credentials",
    "Engine",
    "EventHeader",
    "ExpiresHeader",
    "FromHeader",
    "FrozenCSeqHeader",
    "FrozenContactHeader",
    "FrozenContentTypeHeader",
    "FrozenCredentials",
    "FrozenEventHeader",
    "FrozenExpiresHeader",
    "FrozenFromHeader",
    "FrozenHeader",
    "FrozenMaxForwardsHeader",
    "FrozenMinExpiresHeader",
    "FrozenReasonHeader",
    "FrozenRecordRouteHeader",
    "FrozenReferToHeader",
    "FrozenReplacesHeader",
    "FrozenRetryAfterHeader",
    "FrozenRouteHeader",
    "FrozenSIPURI",
    "FrozenSubjectHeader",
    "FrozenSubscriptionStateHeader",
    "FrozenToHeader",
    "FrozenViaHeader",
    "FrozenWarningHeader",
    "Header",
    "IncomingReferral",
    "IncomingSubscription",
    "Invitation",
    "MaxForwardsHeader",
    "Message",
    "MinExpiresHeader",
    "Publication",
    "ReasonHeader",
    "RecordRouteHeader",
    "ReferToHeader",
    "Referral",
    "Registration",
    "ReplacesHeader",
    "Request",
    "RetryAfterHeader",
    "RouteHeader",
    "SIPCoreError",
    "SIPCoreInvalidStateError",
    "SubjectHeader",
    "Subscription",
    "SubscriptionStateHeader",
    "ToHeader",
    "ViaHeader",
    "WarningHeader",
    "FrozenSDPAttribute",
    "FrozenSDPAttributeList",
    "FrozenSDPBandwidthInfo",
    "FrozenSDPConnection",
    "FrozenSDPMediaStream",
    "FrozenSDPSession",
    "SDPAttribute",
    "SDPAttributeList",
    "SDPBandwidthInfo",
    "SDPConnection",
    "SDPMediaStream",
    "SDPNegotiator",
    "SDPSession",
]
