"""The AccountManager: loading from the configuration, following creations and deletions, the
default account, find_account, and the reference API around them."""

from __future__ import annotations

from typing import Any

import pytest

from sipsimple.account import Account, AccountManager, AccountManagerBase, BonjourAccount
from sipsimple.configuration import ConfigurationManager
from sipsimple.configuration.settings import SIPSimpleSettings
from sipsimple.core.sip.uri import SIPURI


def stored(configuration: ConfigurationManager, *ids: str) -> None:
    for account_id in ids:
        enabled = "false" if account_id == "bonjour@local" else "true"
        configuration.update(["Accounts", account_id], {"enabled": enabled, "sip": {"register": "false"}})


def added(recorder) -> list[str]:
    return [str(n.data.account.id) for n in recorder.named("SIPAccountManagerDidAddAccount")]


def test_start_loads_every_stored_account_and_the_bonjour_account(configuration, client, recorder, loop):
    stored(configuration, "alice@example.test", "bob@example.test", "bonjour@local")
    manager = AccountManagerBase(engine=client)
    manager.start()
    try:
        assert added(recorder) == ["alice@example.test", "bob@example.test", "bonjour@local"]
        assert isinstance(manager.get_account("bonjour@local"), BonjourAccount)
        assert isinstance(manager.get_account("alice@example.test"), Account)
        assert manager.has_account("bob@example.test") and not manager.has_account("carol@example.test")
        assert [a.id for a in manager.iter_accounts()] == [a.id for a in manager.get_accounts()]
        with pytest.raises(KeyError):
            manager.get_account("carol@example.test")
        alice = manager.get_account("alice@example.test")
        assert alice.is_active  # enabled and the engine runs
        assert not manager.get_account("bonjour@local").is_active  # stored without enabled
    finally:
        loop.wait(manager.stop())
    assert not alice.is_active
    assert [n.name for n in recorder.notifications if n.sender is alice][-1] == "SIPAccountDidDeactivate"


def test_the_bonjour_account_is_there_even_when_nothing_is_stored(configuration, client, recorder, loop):
    manager = AccountManagerBase(engine=client)
    manager.start()
    assert added(recorder) == ["bonjour@local"]
    loop.wait(manager.stop())


def test_created_accounts_are_added_and_deleted_ones_removed(manager, recorder):
    recorder.clear()
    account: Any = Account("carol@example.test")
    assert not manager.has_account("carol@example.test")  # not before it is saved
    account.save()
    assert manager.get_account("carol@example.test") is account
    assert [n.data.account for n in recorder.named("SIPAccountManagerDidAddAccount")] == [account]
    account.delete()
    assert not manager.has_account("carol@example.test")
    assert [n.data.account for n in recorder.named("SIPAccountManagerDidRemoveAccount")] == [account]


def test_the_default_account_is_stored_in_the_settings_and_its_changes_announced(manager, recorder):
    alice: Any = Account("alice@example.test")
    alice.enabled = True
    alice.sip.register = False
    alice.save()
    assert manager.default_account is None  # bonjour@local by default, but it is not enabled
    manager.default_account = alice
    settings: Any = SIPSimpleSettings()
    assert settings.default_account == "alice@example.test"
    assert ConfigurationManager().get(["SIPSimpleSettings", "default_account"]) == "alice@example.test"
    assert manager.default_account is alice
    change = recorder.named("SIPAccountManagerDidChangeDefaultAccount")[0].data
    assert (change.old_account, change.account) == (None, alice)
    alice.delete()
    change = recorder.named("SIPAccountManagerDidChangeDefaultAccount")[-1].data
    assert (change.old_account, change.account) == (alice, None)
    assert manager.default_account is None
    with pytest.raises(ValueError):
        manager.default_account = alice  # no longer managed


def test_find_account_matches_the_contact_user_of_enabled_accounts_only(manager):
    alice: Any = Account("alice@example.test")
    alice.enabled = True
    alice.sip.register = False
    alice.save()
    bob: Any = Account("bob@example.test")
    bob.save()
    assert manager.find_account(alice.contact["udp"]) is alice
    assert manager.find_account(SIPURI("127.0.0.1", user=alice.contact.username)) is alice
    assert manager.find_account(SIPURI("127.0.0.1", user=bob.contact.username)) is None  # disabled
    assert manager.find_account(SIPURI("127.0.0.1", user="nobody")) is None


def test_accounts_activate_when_the_engine_starts_and_deactivate_when_it_ends(configuration, loop, recorder):
    from sipsimple.core.engine import SIPEngine

    engine = SIPEngine(reactor=loop.reactor)
    manager = AccountManagerBase(engine=engine)
    manager.start()
    account: Any = Account("alice@example.test")
    account.enabled = True
    account.sip.register = False
    account.save()
    assert not account.is_active  # the engine does not run yet
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None)
    assert account.is_active
    loop.wait(engine.stop())
    assert not account.is_active
    loop.wait(manager.stop())


def test_the_public_account_manager_is_a_singleton():
    assert AccountManager() is AccountManager()
    assert isinstance(AccountManager(), AccountManagerBase)
