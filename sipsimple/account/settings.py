"""The settings groups of ``Account`` and ``BonjourAccount``.

Names follow the reference SDK (``account.auth.password``, ``account.sip.outbound_proxy``,
``account.rtp.encryption.key_negotiation``, ``account.nat_traversal.msrp_relay``,
``account.xcap.xcap_root``...). A None value where the global settings have one means "use the global".
"""

from __future__ import annotations

from sipsimple.configuration import Setting, SettingsGroup
from sipsimple.configuration.datatypes import (
    AudioCodecList,
    MSRPConnectionModel,
    MSRPRelayAddress,
    MSRPTransport,
    NonNegativeInteger,
    Path,
    SIPAddress,
    SIPProxyAddress,
    SIPTransportList,
    SRTPKeyNegotiation,
    STUNServerAddressList,
    XCAPRoot,
)

__all__ = [
    "AuthSettings",
    "BonjourMSRPSettings",
    "BonjourSIPSettings",
    "MessageSummarySettings",
    "MSRPSettings",
    "NATTraversalSettings",
    "PresenceSettings",
    "RTPSettings",
    "SIPSettings",
    "TLSSettings",
    "XCAPSettings",
]


class AuthSettings(SettingsGroup):
    username = Setting(type=str, default=None, nillable=True)  # None: the user part of the account id
    password = Setting(type=str, default="")


class SIPSettings(SettingsGroup):
    always_use_my_proxy = Setting(type=bool, default=False)
    outbound_proxy = Setting(type=SIPProxyAddress, default=None, nillable=True)
    register = Setting(type=bool, default=True)
    register_interval = Setting(type=NonNegativeInteger, default=3600)  # seconds
    subscribe_interval = Setting(type=NonNegativeInteger, default=3600)
    publish_interval = Setting(type=NonNegativeInteger, default=3600)


class EncryptionSettings(SettingsGroup):
    enabled = Setting(type=bool, default=True)
    key_negotiation = Setting(type=SRTPKeyNegotiation, default="opportunistic")


class RTPSettings(SettingsGroup):
    audio_codec_list = Setting(type=AudioCodecList, default=None, nillable=True)
    encryption = EncryptionSettings


class NATTraversalSettings(SettingsGroup):
    use_ice = Setting(type=bool, default=False)
    stun_server_list = Setting(type=STUNServerAddressList, default=None, nillable=True)  # None: DNS lookup
    msrp_relay = Setting(type=MSRPRelayAddress, default=None, nillable=True)  # None: DNS lookup
    use_msrp_relay_for_outbound = Setting(type=bool, default=False)
    keepalive_interval = Setting(type=NonNegativeInteger, default=30)  # s between UDP OPTIONS; 0: off


class MessageSummarySettings(SettingsGroup):
    enabled = Setting(type=bool, default=False)
    voicemail_uri = Setting(type=SIPAddress, default=None, nillable=True)


class MSRPSettings(SettingsGroup):
    transport = Setting(type=MSRPTransport, default="tls")
    connection_model = Setting(type=MSRPConnectionModel, default="relay")


class PresenceSettings(SettingsGroup):
    enabled = Setting(type=bool, default=False)


class XCAPSettings(SettingsGroup):
    enabled = Setting(type=bool, default=True)
    xcap_root = Setting(type=XCAPRoot, default=None, nillable=True)  # None: DNS TXT lookup of xcap.<domain>
    discovered = Setting(type=bool, default=False)


class TLSSettings(SettingsGroup):
    certificate = Setting(type=Path, default=None, nillable=True)
    verify_server = Setting(type=bool, default=True)


class BonjourSIPSettings(SettingsGroup):
    transport_list = Setting(type=SIPTransportList, default=["tcp", "udp"])


class BonjourMSRPSettings(SettingsGroup):
    transport = Setting(type=MSRPTransport, default="tcp")
