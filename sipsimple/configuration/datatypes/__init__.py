"""Datatypes for configuration settings.

Every datatype ``T`` is an immutable value (a ``str``, ``int`` or ``tuple`` subclass, or a frozen
object) such that ``str(value)`` is its canonical string form and ``T(str(value)) == value``;
for list datatypes the stored state is ``[str(item) for item in value]`` and
``T(state) == value``.  Bad input raises ``ValueError`` saying what was wrong and what is
accepted.  See ``docs/configuration-datatypes.md`` for each type's forms.

This package does not depend on the settings machinery in :mod:`sipsimple.configuration`.
"""

from ._base import BoundedInteger, Choice, List
from ._generic import (
    ContentType,
    ContentTypeList,
    CountryCode,
    Domain,
    DomainList,
    Hostname,
    HostnameList,
    IPAddress,
    NonNegativeInteger,
    Path,
    Port,
    PortRange,
    PositiveInteger,
)
from ._media import AudioCodec, AudioCodecList, AudioInputDevice, AudioOutputDevice, SampleRate
from ._network import (
    MSRPConnectionModel,
    MSRPRelayAddress,
    MSRPTransport,
    SIPAddress,
    SIPProxyAddress,
    SIPTransport,
    SIPTransportList,
    SRTPCryptoSuite,
    SRTPCryptoSuiteList,
    SRTPKeyNegotiation,
    STUNServerAddress,
    STUNServerAddressList,
    XCAPRoot,
)

__all__ = [
    # bases
    "BoundedInteger",
    "Choice",
    "List",
    # generic
    "ContentType",
    "ContentTypeList",
    "CountryCode",
    "Domain",
    "DomainList",
    "Hostname",
    "HostnameList",
    "IPAddress",
    "NonNegativeInteger",
    "Path",
    "Port",
    "PortRange",
    "PositiveInteger",
    # network
    "MSRPConnectionModel",
    "MSRPRelayAddress",
    "MSRPTransport",
    "SIPAddress",
    "SIPProxyAddress",
    "SIPTransport",
    "SIPTransportList",
    "SRTPCryptoSuite",
    "SRTPCryptoSuiteList",
    "SRTPKeyNegotiation",
    "STUNServerAddress",
    "STUNServerAddressList",
    "XCAPRoot",
    # media
    "AudioCodec",
    "AudioCodecList",
    "AudioInputDevice",
    "AudioOutputDevice",
    "SampleRate",
]
