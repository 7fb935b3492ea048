"""Accounts: ``Account`` (one per SIP address, registered at a provider) and ``BonjourAccount``.

This module currently defines what accounts *store*: their ids and settings, with the reference SDK's
names. Activation, registration, presence and the AccountManager build on these classes.
"""

from __future__ import annotations

from sipsimple.account.settings import (
    AuthSettings,
    BonjourMSRPSettings,
    BonjourSIPSettings,
    MessageSummarySettings,
    MSRPSettings,
    NATTraversalSettings,
    PresenceSettings,
    RTPSettings,
    SIPSettings,
    TLSSettings,
    XCAPSettings,
)
from sipsimple.configuration import Setting, SettingsObject, SettingsObjectImmutableID
from sipsimple.configuration.datatypes import SIPAddress

__all__ = ["Account", "BonjourAccount"]


class Account(SettingsObject):
    """A SIP account at a provider, identified by its SIP address (``user@domain``)."""

    __group__ = "Accounts"
    __id__ = SettingsObjectImmutableID(type=SIPAddress)
    id = __id__

    enabled = Setting(type=bool, default=False)
    display_name = Setting(type=str, default=None, nillable=True)

    auth = AuthSettings
    sip = SIPSettings
    rtp = RTPSettings
    nat_traversal = NATTraversalSettings
    message_summary = MessageSummarySettings
    msrp = MSRPSettings
    presence = PresenceSettings
    xcap = XCAPSettings
    tls = TLSSettings


class BonjourAccount(SettingsObject):
    """The peer-to-peer account (``bonjour@local``), found by neighbours through mDNS."""

    __group__ = "Accounts"
    __id__ = SIPAddress("bonjour@local")

    enabled = Setting(type=bool, default=False)
    display_name = Setting(type=str, default=None, nillable=True)

    sip = BonjourSIPSettings
    rtp = RTPSettings
    msrp = BonjourMSRPSettings
    tls = TLSSettings

    @property
    def id(self) -> SIPAddress:
        return SIPAddress(self._id_)
