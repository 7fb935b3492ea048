"""``Account`` and ``BonjourAccount``: settings objects that also act (activation, registration).

An account acts once its AccountManager has attached it to a runtime (engine, clock, resolver,
back-off) and it is *active*: ``enabled`` is set and the engine runs. Activation posts
``SIPAccountWillActivate`` / ``SIPAccountDidActivate`` and starts the registration when
``sip.register`` is on; deactivation posts ``SIPAccountWillDeactivate``, unregisters (bounded) and
posts ``SIPAccountDidDeactivate``. The AccountManager calls ``_settings_changed_`` after each
``save()``: enabling/disabling activates/deactivates; a change of the credentials, the outbound
proxy, ``sip.register`` or ``sip.register_interval`` registers again; a change of
``nat_traversal.keepalive_interval`` restarts the UDP keep-alive (``_keepalive``). The message-summary (MWI)
subscription (``_mwi.AccountMWI``, ``account.mwi``) runs while ``message_summary.enabled`` is on and
follows its own settings (``AccountMWI.settings_changed``).

All of this runs on the reactor thread (the AccountManager hands notifications over to it).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, DeferredList, succeed

from sipsimple.account._contact import ContactURIFactory
from sipsimple.account._mwi import AccountMWI
from sipsimple.account._registrar import AccountRegistrar, AccountRuntime
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
from sipsimple.configuration import ModifiedValue, Setting, SettingsObject, SettingsObjectImmutableID
from sipsimple.configuration.datatypes import SIPAddress
from sipsimple.core.sip.credentials import Credentials
from sipsimple.core.sip.uri import SIPURI

__all__ = ["Account", "BonjourAccount"]

#: settings whose change makes an active account register again
REGISTRATION_SETTINGS = frozenset(
    {"auth.username", "auth.password", "display_name", "sip.outbound_proxy", "sip.register_interval"}
)


class _ActingAccount(SettingsObject):
    """Activation shared by both kinds of account (not instantiated itself: it has no ``__id__``)."""

    contact: ContactURIFactory
    _runtime: AccountRuntime | None
    _active: bool

    def __init__(self, id: Any = None) -> None:
        self.contact = ContactURIFactory()
        self._runtime = None
        self._active = False

    @property
    def is_active(self) -> bool:
        """True between SIPAccountDidActivate and SIPAccountWillDeactivate."""
        return self._active

    @property
    def uri(self) -> SIPURI:
        """The address of record as a SIPURI (for From/To headers)."""
        address: Any = self.id  # type: ignore[attr-defined]
        return SIPURI(address.domain, user=address.username)

    def _attach_(self, runtime: AccountRuntime | None) -> None:
        self._runtime = runtime
        self.contact.engine = None if runtime is None else runtime.engine

    def _activate_(self) -> None:
        runtime = self._runtime
        settings: Any = self
        if self._active or runtime is None or not settings.enabled or not runtime.engine.is_running:
            return
        self._post_("SIPAccountWillActivate")
        self._active = True
        self._start_functions_(runtime)
        self._post_("SIPAccountDidActivate")

    def _deactivate_(self) -> Deferred[None]:
        if not self._active:
            return succeed(None)
        self._post_("SIPAccountWillDeactivate")
        self._active = False
        stopping = self._stop_functions_()

        def deactivated(result: object) -> None:
            self._post_("SIPAccountDidDeactivate")

        return stopping.addBoth(deactivated)

    def _settings_changed_(self, modified: dict[str, ModifiedValue]) -> None:
        settings: Any = self
        if "enabled" in modified:
            if settings.enabled:
                self._activate_()
            else:
                self._deactivate_()
        elif self._active:
            self._reconfigure_(modified)

    # what each kind of account runs while active -------------------------------------------------

    def _start_functions_(self, runtime: AccountRuntime) -> None:
        pass

    def _stop_functions_(self) -> Deferred[None]:
        return succeed(None)

    def _reconfigure_(self, modified: dict[str, ModifiedValue]) -> None:
        pass


class _AccountID(SettingsObjectImmutableID):
    """The id of an ``Account``: any SIP address but the BonjourAccount's, which would share its
    configuration section with the BonjourAccount (and be loaded as one on the next start)."""

    def convert(self, value: Any) -> Any:
        address = super().convert(value)
        if address == "bonjour@local":
            raise ValueError("invalid id: bonjour@local belongs to the BonjourAccount; use BonjourAccount()")
        return address


class Account(_ActingAccount):
    """A SIP account at a provider, identified by its SIP address (``user@domain``)."""

    __group__ = "Accounts"
    __id__ = _AccountID(type=SIPAddress)
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

    _registrar: AccountRegistrar | None
    _mwi: AccountMWI | None

    def __init__(self, id: Any = None) -> None:
        super().__init__(id)
        self._registrar = None
        self._mwi = None

    @property
    def credentials(self) -> Credentials:
        """Digest credentials from ``auth.username`` (or the user part of the id) and ``auth.password``;
        built from the current settings at each access."""
        settings: Any = self
        username = settings.auth.username or settings.id.username
        return Credentials(username, settings.auth.password)

    @property
    def registrar(self) -> AccountRegistrar | None:
        """The registration controller while the account is active (None otherwise)."""
        return self._registrar

    @property
    def mwi(self) -> AccountMWI | None:
        """The message-summary (MWI) subscriber while the account is active (None otherwise)."""
        return self._mwi

    def _start_functions_(self, runtime: AccountRuntime) -> None:
        settings: Any = self
        self._registrar = AccountRegistrar(self, runtime)
        if settings.sip.register:
            self._registrar.start()
        self._mwi = AccountMWI(self, runtime)
        if settings.message_summary.enabled:
            self._mwi.start()

    def _stop_functions_(self) -> Deferred[None]:
        registrar, self._registrar = self._registrar, None
        mwi, self._mwi = self._mwi, None
        stopping = [part.stop() for part in (mwi, registrar) if part is not None]
        return DeferredList(stopping).addCallback(lambda _: None) if stopping else succeed(None)

    def _reconfigure_(self, modified: dict[str, ModifiedValue]) -> None:
        if self._mwi is not None:
            self._mwi.settings_changed(modified)
        registrar = self._registrar
        if registrar is None:
            return
        settings: Any = self
        if not settings.sip.register:
            registrar.stop()
        elif "sip.register" in modified:
            registrar.start()
        elif REGISTRATION_SETTINGS.intersection(modified):
            registrar.restart()
        elif "nat_traversal.keepalive_interval" in modified:
            registrar.watch.settings_changed()


class BonjourAccount(_ActingAccount):
    """The peer-to-peer account (``bonjour@local``), found by neighbours through mDNS.

    While active it announces its contact for each transport the engine listens on (of
    ``sip.transport_list``) over mDNS and reports the neighbours it finds (``BonjourServices``:
    ``BonjourAccountDidAddNeighbour`` and the rest, with the account as sender). A change of the
    display name or of the transports is announced again.
    """

    __group__ = "Accounts"
    __id__ = SIPAddress("bonjour@local")

    enabled = Setting(type=bool, default=False)
    display_name = Setting(type=str, default=None, nillable=True)

    sip = BonjourSIPSettings
    rtp = RTPSettings
    msrp = BonjourMSRPSettings
    tls = TLSSettings

    _services: Any

    def __init__(self, id: Any = None) -> None:
        super().__init__(id)
        self._services = None

    @property
    def id(self) -> SIPAddress:
        return SIPAddress(self._id_)

    @property
    def services(self) -> Any:
        """The mDNS announcer/browser while the account is active (None otherwise)."""
        return self._services

    def _transports(self, runtime: AccountRuntime) -> list[str]:
        settings: Any = self
        return [
            str(t) for t in settings.sip.transport_list if runtime.engine.local_address(str(t)) is not None
        ]

    def _start_functions_(self, runtime: AccountRuntime) -> None:
        from sipsimple.account.bonjour import BonjourServices

        settings: Any = self
        transports = self._transports(runtime)
        self._services = BonjourServices(
            self,
            lambda: {transport: self.contact[transport] for transport in self._transports(runtime)},
            display_name=settings.display_name or "",
            interfaces=runtime.bonjour_interfaces,
            transports=transports,
            reactor=runtime.engine.reactor,
        )
        self._services.start()

    def _stop_functions_(self) -> Deferred[None]:
        services, self._services = self._services, None
        return succeed(None) if services is None else services.stop()

    def _reconfigure_(self, modified: dict[str, ModifiedValue]) -> None:
        services = self._services
        if services is None or not {"display_name", "sip.transport_list"}.intersection(modified):
            return
        settings: Any = self
        services.display_name = settings.display_name or ""
        services.update_registrations()
