"""``AccountManager``: loads the accounts from the configuration and keeps track of them.

``AccountManager()`` is the process-wide singleton; ``AccountManagerBase`` is the same class
without the singleton, with its collaborators injectable (engine, clock, resolver, back-off, random
source, the thread hand-over), for tests and embedded use.

``start()`` (after ``ConfigurationManager.start``) loads every account stored under ``Accounts``,
plus the BonjourAccount, posts ``SIPAccountManagerDidAddAccount`` (``account``) for each and
activates the enabled ones if the engine runs. From then on it follows the configuration:
``CFGSettingsObjectWasCreated`` of an account adds it, ``CFGSettingsObjectWasDeleted`` deactivates
and removes it (``SIPAccountManagerDidRemoveAccount``), ``CFGSettingsObjectDidChange`` is handed to
the account. It activates the accounts when its engine starts and deactivates them when it ends.
``stop()`` deactivates every account and returns a Deferred that fires when they have unregistered
(each bounded by ``unregister_timeout``).

Notifications posted on any thread (an account saved by the application's thread) are handed to
the reactor thread through ``twisted_thread.call`` when a TwistedThread is given.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, succeed

from sipsimple.account._account import Account, BonjourAccount, _ActingAccount
from sipsimple.account._registrar import AccountRuntime, RegistrationBackoff
from sipsimple.configuration import ConfigurationManager
from sipsimple.notification import Notification, NotificationCenter, NotificationData
from sipsimple.util import ISOTimestamp, Singleton

if TYPE_CHECKING:
    from sipsimple.core.primitives._client import EngineAPI
    from sipsimple.core.primitives.route import RouteResolver
    from sipsimple.core.sip.uri import BaseSIPURI
    from sipsimple.threading import TwistedThread
    from sipsimple.util._time import ReactorTime

__all__ = ["AccountManager", "AccountManagerBase"]

AnyAccount = Account | BonjourAccount

_CONFIGURATION_EVENTS = (
    "CFGSettingsObjectWasCreated",
    "CFGSettingsObjectWasDeleted",
    "CFGSettingsObjectDidChange",
)
_ENGINE_EVENTS = ("SIPEngineDidStart", "SIPEngineWillEnd")


class AccountManagerBase:
    """The AccountManager without the singleton; see the module documentation."""

    def __init__(
        self,
        *,
        engine: EngineAPI | None = None,
        clock: ReactorTime | None = None,
        resolver: RouteResolver | None = None,
        backoff: RegistrationBackoff | None = None,
        random: Callable[[], float] | None = None,
        twisted_thread: TwistedThread | None = None,
        register_timeout: float | None = 30.0,
        unregister_timeout: float = 5.0,
        bonjour_interfaces: list[str] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.resolver = resolver
        #: the back-off of failed registrations; replace it before start() to change it
        self.backoff = backoff if backoff is not None else RegistrationBackoff()
        self.random = random if random is not None else _random.random
        self.twisted_thread = twisted_thread
        self.register_timeout = register_timeout
        self.unregister_timeout = unregister_timeout
        #: the interfaces the BonjourAccount announces and browses on (None: all; tests use 127.0.0.1)
        self.bonjour_interfaces = bonjour_interfaces
        self._accounts: dict[str, AnyAccount] = {}
        self._runtime: AccountRuntime | None = None
        self._started = False

    # -- life cycle -------------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> None:
        if self._started:
            return
        engine = self.engine
        if engine is None:
            from sipsimple.core.engine import Engine

            engine = self.engine = Engine()
        self._runtime = AccountRuntime(
            engine=engine,
            clock=self.clock if self.clock is not None else engine.reactor,
            resolver=self.resolver,
            backoff=self.backoff,
            random=self.random,
            register_timeout=self.register_timeout,
            unregister_timeout=self.unregister_timeout,
            bonjour_interfaces=self.bonjour_interfaces,
        )
        self._started = True
        center = NotificationCenter()
        for name in _CONFIGURATION_EVENTS:
            center.add_observer(self, name=name)
        for name in _ENGINE_EVENTS:
            center.add_observer(self, name=name, sender=engine)
        for name in ConfigurationManager().get_names(["Accounts"]):
            account: AnyAccount = BonjourAccount() if name == BonjourAccount.__id__ else Account(name)
            self._add(account)
        if BonjourAccount.__id__ not in self._accounts:
            self._add(BonjourAccount())

    def stop(self) -> Deferred[None]:
        """Deactivate every account; fires when all have unregistered (or given up, bounded)."""
        if not self._started:
            return succeed(None)
        self._started = False
        center = NotificationCenter()
        for name in _CONFIGURATION_EVENTS:
            center.discard_observer(self, name=name)
        for name in _ENGINE_EVENTS:
            center.discard_observer(self, name=name, sender=self.engine)
        stopping = [account._deactivate_() for account in self._accounts.values()]
        for account in self._accounts.values():
            account._attach_(None)
        self._accounts.clear()
        done: Deferred[Any] = DeferredList(stopping, consumeErrors=True)
        return done.addCallback(lambda _: None)

    # -- the reference API ------------------------------------------------------------------------

    def has_account(self, id: str) -> bool:
        return id in self._accounts

    def get_account(self, id: str) -> AnyAccount:
        return self._accounts[id]

    def get_accounts(self) -> list[AnyAccount]:
        return list(self._accounts.values())

    def iter_accounts(self) -> Iterator[AnyAccount]:
        return iter(list(self._accounts.values()))

    def find_account(self, contact_uri: BaseSIPURI) -> AnyAccount | None:
        """The enabled account whose Contact user part is that of ``contact_uri``, or None."""
        user = getattr(contact_uri, "user", None)
        for account in self._accounts.values():
            settings: Any = account
            if settings.enabled and user is not None and account.contact.username == user:
                return account
        return None

    @property
    def default_account(self) -> AnyAccount | None:
        """The account named by ``SIPSimpleSettings.default_account``, if it exists and is enabled."""
        from sipsimple.configuration.settings import SIPSimpleSettings

        settings: Any = SIPSimpleSettings()
        account = self._accounts.get(settings.default_account) if settings.default_account else None
        return account if account is not None and _enabled(account) else None

    @default_account.setter
    def default_account(self, account: AnyAccount | None) -> None:
        from sipsimple.configuration.settings import SIPSimpleSettings

        if account is not None and self._accounts.get(account.id) is not account:
            raise ValueError(f"{account!r} is not managed by the AccountManager")
        if account is not None and not _enabled(account):
            raise ValueError(f"{account!r} is not enabled")
        old = self.default_account
        settings: Any = SIPSimpleSettings()
        settings.default_account = None if account is None else str(account.id)
        settings.save()
        if old is not account:
            self._post("SIPAccountManagerDidChangeDefaultAccount", old_account=old, account=account)

    # -- following the configuration and the engine -----------------------------------------------

    def handle_notification(self, notification: Notification) -> None:
        if self.twisted_thread is not None:
            self.twisted_thread.call(self._handle, notification)
        else:
            self._handle(notification)

    def _handle(self, notification: Notification) -> None:
        if not self._started:
            return
        name, sender = notification.name, notification.sender
        if name == "SIPEngineDidStart":
            for account in self.iter_accounts():
                account._activate_()
        elif name == "SIPEngineWillEnd":
            for account in self.iter_accounts():
                account._deactivate_()
        elif isinstance(sender, _ActingAccount):
            self._follow_configuration(name, sender, notification.data)

    def _follow_configuration(self, name: str, account: Any, data: Any) -> None:
        if name == "CFGSettingsObjectWasCreated":
            if account.id not in self._accounts:
                self._add(account)
            elif self._manages(account):
                # the BonjourAccount is managed before it is first stored: its first save (say,
                # enabled = True) is a creation, not a change
                account._activate_()
        elif name == "CFGSettingsObjectWasDeleted":
            self._remove(account)
        elif name == "CFGSettingsObjectDidChange" and self._manages(account):
            account._settings_changed_(data.modified)

    def _manages(self, account: object) -> bool:
        return any(managed is account for managed in self._accounts.values())

    def _add(self, account: AnyAccount) -> None:
        self._accounts[account.id] = account
        account._attach_(self._runtime)
        self._post("SIPAccountManagerDidAddAccount", account=account)
        account._activate_()

    def _remove(self, account: AnyAccount) -> None:
        if self._accounts.get(account.id) is not account:
            return
        was_default = self.default_account is account
        del self._accounts[account.id]
        account._deactivate_()
        account._attach_(None)
        self._post("SIPAccountManagerDidRemoveAccount", account=account)
        if was_default:
            self._post("SIPAccountManagerDidChangeDefaultAccount", old_account=account, account=None)

    def _post(self, name: str, **attributes: Any) -> None:
        data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
        NotificationCenter().post_notification(name, sender=self, data=data)


def _enabled(account: AnyAccount) -> bool:
    settings: Any = account
    return bool(settings.enabled)


class AccountManager(AccountManagerBase, metaclass=Singleton):
    """The process-wide AccountManager (on the process-wide Engine and Twisted thread)."""

    def __init__(self) -> None:
        from sipsimple.threading import get_twisted_thread

        super().__init__(twisted_thread=get_twisted_thread())
