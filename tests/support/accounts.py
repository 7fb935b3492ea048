"""A stand-in for the Account face that the Session and the SessionManager use, and an
AccountManager-like lookup over a few of them, for tests that run SIPEngines without accounts."""

from __future__ import annotations

from typing import Any

from sipsimple.account._contact import ContactURIFactory
from sipsimple.core.engine import SIPEngine
from sipsimple.core.sip.uri import SIPURI


class StandInAccount:
    """uri, display_name, credentials and a contact factory on the account's engine."""

    def __init__(self, user: str, engine: SIPEngine) -> None:
        self.uri = SIPURI("example.test", user=user)
        self.display_name = user.title()
        self.credentials = None
        self.enabled = True
        self.contact = ContactURIFactory(username=user, engine=engine)


class Accounts:
    """find_account(uri): the stand-in whose contact user part is the request URI's user."""

    def __init__(self, *accounts: StandInAccount) -> None:
        self.accounts = accounts

    def find_account(self, uri: Any) -> StandInAccount | None:
        return next((a for a in self.accounts if getattr(uri, "user", None) == a.contact.username), None)
