"""Accounts: ``Account`` (one per SIP address, registered at a provider), ``BonjourAccount`` and the
``AccountManager`` that loads and follows them.

What accounts store (their settings) is in ``sipsimple.account.settings``; what they do lives in
small modules: activation in ``_account``, Contact URIs in ``_contact``, registration and its
back-off in ``_registrar``, the message-summary (MWI) subscription in ``_mwi``, the manager in
``_manager``. See docs/accounts.md.
"""

from __future__ import annotations

from sipsimple.account._account import Account, BonjourAccount
from sipsimple.account._contact import ContactURIFactory
from sipsimple.account._manager import AccountManager, AccountManagerBase
from sipsimple.account._mwi import AccountMWI
from sipsimple.account._registrar import AccountRegistrar, AccountRuntime, RegistrationBackoff

__all__ = [
    "Account",
    "AccountManager",
    "AccountManagerBase",
    "AccountMWI",
    "AccountRegistrar",
    "AccountRuntime",
    "BonjourAccount",
    "ContactURIFactory",
    "RegistrationBackoff",
]
