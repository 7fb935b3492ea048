"""Bad input to accounts and configuration: it is refused with a ValueError saying what is wrong, or
reported as a ...DidFail notification with a reason, and what is stored on disk is never lost.

Each configuration here lives in a file (FileStorage/FileBackend in ``tmp_path``) and its bytes are
compared before and after. Registration failures run against the in-process engine of
tests/account/conftest.py with DNS answered from a table: no query leaves the process.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sipsimple.account import Account, AccountManagerBase, RegistrationBackoff
from sipsimple.application import SIPApplicationBase
from sipsimple.configuration import ConfigurationError, ConfigurationManager
from sipsimple.configuration.backend.file import dumps
from sipsimple.configuration.backend.memory import MemoryBackend
from sipsimple.core.engine import SIPEngine
from sipsimple.core.primitives import HostResolver
from sipsimple.lookup import DNSLookup, DNSManager, DNSRouteResolver
from sipsimple.lookup._resolver import ResolverConfiguration
from sipsimple.notification import NotificationCenter
from sipsimple.storage import FileStorage
from sipsimple.threading import TwistedThread
from sipsimple.threading.green import GreenHub
from tests.lookup.conftest import TableResolver
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import fresh_reactor
from tests.support.wait import wait_for

STORED = {
    "Accounts": {
        "alice@example.test": {
            "enabled": "false",
            "sip": {"outbound_proxy": "proxy.example.test:5070;transport=tcp", "register_interval": "600"},
        }
    },
    "SIPSimpleSettings": {"user_agent": "bad-input-test"},
}


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[Path]:
    """A started ConfigurationManager over a FileStorage whose file already holds alice's account;
    yields the file's path."""
    storage = FileStorage(tmp_path)
    config = Path(storage.directory, "config")
    config.write_text(dumps(STORED), encoding="utf-8")
    manager = ConfigurationManager()
    manager.stop()
    manager.start(storage.configuration_backend)
    yield config
    manager.stop()


# -- account ids --------------------------------------------------------------------------------

BAD_IDS = [
    ("not an address", "must look like user@domain"),
    ("a@b@c", "user part 'a@b'"),
    ("", "must look like user@domain"),
    ("   ", "must look like user@domain"),
    ("alice smith@example.test", "user part 'alice smith'"),
    ("alice@exa mple.test", "domain 'exa mple.test'"),
    ("alice@", "domain '': must not be empty"),
    ("@example.test", "user part before '@' must not be empty"),
    ("alice@example.test:5060", "a port is not allowed"),
    ("alice@example.test;transport=tcp", "domain 'example.test;transport=tcp'"),
    ("sip:", "must look like user@domain"),
    ("alice@-example-.test", "domain '-example-.test'"),
    (42, "must be a string"),
    ("bonjour@local", "belongs to the BonjourAccount"),
]


@pytest.mark.parametrize(("bad_id", "says"), BAD_IDS, ids=[repr(bad) for bad, _ in BAD_IDS])
def test_an_account_id_that_is_not_a_sip_address_is_refused_and_nothing_is_saved(
    stored: Path, recorder: NotificationRecorder, bad_id: Any, says: str
) -> None:
    """Account(bad id) raises ValueError naming the id and what is wrong with it; no account object
    comes to life, the configuration tree and the file are untouched."""
    before = stored.read_bytes()
    with pytest.raises(ValueError, match="invalid id") as raised:
        Account(bad_id)
    message = str(raised.value)
    assert says in message
    if bad_id != "bonjour@local":
        assert repr(bad_id) in message  # the exact text the user gave, quoted
    assert recorder.notifications == []  # not even CFGSettingsObjectWasActivated
    assert ConfigurationManager().get_names(["Accounts"]) == ["alice@example.test"]
    assert stored.read_bytes() == before


def test_an_account_id_without_any_id_is_a_type_error(stored: Path) -> None:
    with pytest.raises(TypeError, match="needs an id"):
        Account()


def test_harmless_spelling_variants_of_an_id_are_the_same_account(stored: Path) -> None:
    """Surrounding blanks, a sip: prefix and an upper-case domain are normalised, not refused: they
    name the stored account rather than creating another."""
    alice = Account("alice@example.test")
    assert Account("  alice@example.test ") is alice
    assert Account("sip:alice@EXAMPLE.test") is alice


# -- the outbound proxy -------------------------------------------------------------------------

BAD_PROXIES = [
    ("127.0.0.1:99999", "port '99999'"),
    ("host;transport=carrier-pigeon", "'carrier-pigeon': must be one of udp, tcp, tls"),
    ("", "host '': must not be empty"),
    ("sip:", "host '': must not be empty"),
    ("proxy.example.test:0", "port '0'"),
    ("proxy example.test", "host 'proxy example.test'"),
    ("proxy.example.test;maddr=10.0.0.1", "unsupported parameter"),
    ("[2001:db8::1", "SIP proxy address"),
]


@pytest.mark.parametrize(("bad", "says"), BAD_PROXIES, ids=[repr(bad) for bad, _ in BAD_PROXIES])
def test_a_malformed_outbound_proxy_is_refused_and_the_previous_one_stays(
    stored: Path, recorder: NotificationRecorder, bad: str, says: str
) -> None:
    """Setting sip.outbound_proxy to a malformed string raises ValueError naming the setting and the
    problem; the account keeps its proxy, has nothing to save, and the file is unchanged after save()."""
    account: Any = Account("alice@example.test")
    previous = account.sip.outbound_proxy
    before = stored.read_bytes()
    with pytest.raises(ValueError, match="sip.outbound_proxy") as raised:
        account.sip.outbound_proxy = bad
    assert says in str(raised.value)
    assert account.sip.outbound_proxy == previous
    assert str(previous) == "proxy.example.test:5070;transport=tcp"
    assert account.get_modified() == {}
    account.save()
    assert stored.read_bytes() == before
    assert not [
        n
        for n in recorder.notifications
        if n.name.startswith("CFGSettingsObject") and n.name != "CFGSettingsObjectWasActivated"
    ]


def test_a_malformed_proxy_in_the_file_is_ignored_with_a_warning_and_kept_on_disk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A hand-edited file with a bad proxy still loads: the setting falls back to its default, a
    warning names the account, the setting and the stored text, and saving the account for another
    change keeps that text in the file for the user to fix."""
    storage = FileStorage(tmp_path)
    config = Path(storage.directory, "config")
    config.write_text(
        dumps({"Accounts": {"alice@example.test": {"sip": {"outbound_proxy": "127.0.0.1:99999"}}}}),
        encoding="utf-8",
    )
    manager = ConfigurationManager()
    manager.stop()
    manager.start(storage.configuration_backend)
    try:
        with caplog.at_level(logging.WARNING, logger="sipsimple.configuration"):
            account: Any = Account("alice@example.test")
        assert account.sip.outbound_proxy is None
        [warning] = [r.getMessage() for r in caplog.records if "outbound_proxy" in r.getMessage()]
        assert "alice@example.test" in warning and "'127.0.0.1:99999'" in warning and "kept" in warning
        account.display_name = "Alice"
        account.save()
        assert '      outbound_proxy = "127.0.0.1:99999"' in config.read_text(encoding="utf-8").splitlines()
    finally:
        manager.stop()


def test_a_refused_proxy_does_not_disturb_a_registered_account(manager, registrar, loop, recorder) -> None:
    """The bad assignment is refused before anything reaches the account's runtime: it stays
    registered at its proxy and sends no REGISTER because of it."""
    account: Any = Account("alice@example.test")
    account.auth.password = "secret-alice"
    account.sip.outbound_proxy = registrar.proxy
    account.enabled = True
    account.save()
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidSucceed"), what="the registration")
    sent = registrar.count("REGISTER")
    with pytest.raises(ValueError):
        account.sip.outbound_proxy = "127.0.0.1:99999"
    account.save()
    loop.turn(20)
    assert registrar.count("REGISTER") == sent and account.registrar.registered
    assert str(account.sip.outbound_proxy) == registrar.proxy


@pytest.fixture
def unloadable_proxy_stored(configuration: ConfigurationManager) -> None:
    """The configuration holds alice's account with a proxy that cannot be loaded (port 99999);
    requested before ``manager`` so that the AccountManager loads the account when it starts."""
    configuration.stop()
    configuration.start(
        MemoryBackend({"Accounts": {"alice@example.test": {"sip": {"outbound_proxy": "127.0.0.1:99999"}}}})
    )


def test_an_unloadable_stored_proxy_fails_the_registration_instead_of_going_to_the_domain(
    unloadable_proxy_stored, manager, registrar, loop, recorder
) -> None:
    """A hand-edited proxy that could not be loaded leaves the setting at None, but the account
    does not fall back to its domain's DNS: the user asked for a proxy. The registration fails with
    an error naming the setting and the stored text, and no REGISTER is sent; assigning a proxy
    clears the error and the account registers there."""
    account: Any = Account("alice@example.test")
    assert account.sip.outbound_proxy is None
    assert "'127.0.0.1:99999'" in (account.stored_value_error("sip.outbound_proxy") or "")
    account.auth.password = "secret-alice"
    account.enabled = True
    account.save()
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidFail"), what="the failure")
    [failed] = recorder.named("SIPAccountRegistrationDidFail")
    assert "sip.outbound_proxy" in failed.data.error and "'127.0.0.1:99999'" in failed.data.error
    assert registrar.count("REGISTER") == 0

    account.sip.outbound_proxy = registrar.proxy
    assert account.stored_value_error("sip.outbound_proxy") is None
    account.save()
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidSucceed"), what="the registration")
    assert registrar.count("REGISTER") >= 1


# -- a configuration file corrupted on disk ------------------------------------------------------

VALID = dumps(STORED).encode()
CORRUPTIONS = {
    "binary garbage": b"\x00\xff\xfe\x80 not text at all\n",
    "truncated in a value": VALID[: VALID.index(b"proxy.example") + 5],
    "a tab for indentation": VALID.replace(b"\n  alice", b"\n\talice"),
    "a number instead of a string": VALID.replace(b'"false"', b"0"),
    "a line that is neither section nor value": VALID + b"what is this\n",
    "a setting given twice": VALID + b'SIPSimpleSettings:\n  user_agent = "x"\n',
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupted_configuration_file_fails_to_load_and_is_kept_aside_byte_for_byte(
    tmp_path: Path, recorder: NotificationRecorder, corruption: str
) -> None:
    """start() raises ConfigurationError naming where the file went; CFGManagerLoadFailed carries
    the exception; the original bytes are in ``config.corrupt-<time>`` and stay there when the
    manager is started again (empty) and saves a new file."""
    storage = FileStorage(tmp_path)
    config = Path(storage.directory, "config")
    original = CORRUPTIONS[corruption]
    config.write_bytes(original)
    manager = ConfigurationManager()
    manager.stop()
    try:
        with pytest.raises(ConfigurationError) as raised:
            manager.start(storage.configuration_backend)
        [aside] = list(tmp_path.glob("config.corrupt-*"))
        assert aside.read_bytes() == original
        assert str(aside) in str(raised.value) and "not a valid configuration file" in str(raised.value)
        assert not config.exists() and not manager.started
        [failed] = recorder.named("CFGManagerLoadFailed")
        assert failed.sender is manager
        assert set(vars(failed.data)) == {"timestamp", "exception"}
        assert str(aside) in str(failed.data.exception)

        manager.start(storage.configuration_backend)  # the retry starts from an empty configuration
        account: Any = Account("alice@example.test")
        account.save()
        assert config.exists() and aside.read_bytes() == original
    finally:
        manager.stop()


def test_a_configuration_path_that_cannot_be_read_is_reported_and_left_alone(
    tmp_path: Path, recorder: NotificationRecorder
) -> None:
    """A directory where the file should be cannot be read: the error says so, and nothing is moved."""
    storage = FileStorage(tmp_path)
    Path(storage.directory, "config").mkdir()
    manager = ConfigurationManager()
    manager.stop()
    with pytest.raises(ConfigurationError, match="cannot read"):
        manager.start(storage.configuration_backend)
    assert Path(storage.directory, "config").is_dir() and not list(tmp_path.glob("config.corrupt-*"))
    assert recorder.named("CFGManagerLoadFailed")


def test_a_corrupted_file_fails_the_application_start_which_can_be_retried(tmp_path: Path) -> None:
    """SIPApplication.start propagates the ConfigurationError without starting anything, and a
    second start (now on an empty configuration) runs."""

    config = Path(tmp_path, "config")
    config.write_bytes(CORRUPTIONS["binary garbage"])
    recorder = NotificationRecorder()
    NotificationCenter().add_observer(recorder)
    ConfigurationManager().stop()
    with fresh_reactor() as reactor:
        thread = TwistedThread(reactor)
        engine = SIPEngine(reactor=reactor)
        app = SIPApplicationBase(
            twisted_thread=thread,
            engine=engine,
            account_manager=AccountManagerBase(engine=engine, twisted_thread=thread),
            engine_options={"ip_address": "127.0.0.1", "udp_port": 0, "tcp_port": None, "tls_port": None},
            stop_timeout=2.0,
            dns_nameservers=["127.0.0.1"],
        )
        try:
            with pytest.raises(ConfigurationError, match="moved to"):
                app.start(FileStorage(tmp_path))
            assert not app.running and thread.thread is None and recorder.names("SIPApplication") == []
            app.start(FileStorage(tmp_path))
            wait_for(lambda: recorder.named("SIPApplicationDidStart"), "the start", 5.0)
        finally:
            app.stop()
            if thread.thread is not None:
                thread.thread.join(5.0)
            ConfigurationManager().stop()
            DNSManager().configuration = ResolverConfiguration()
    assert [p.read_bytes() for p in tmp_path.glob("config.corrupt-*")] == [CORRUPTIONS["binary garbage"]]


# -- a registrar domain that does not resolve ----------------------------------------------------


def registering_account(domain: str) -> Any:
    account: Any = Account(f"alice@{domain}")  # no outbound proxy: the domain is looked up
    account.auth.password = "secret-alice"
    account.enabled = True
    account.save()
    return account


@pytest.fixture
def manager_with(configuration, client, clock, loop) -> Iterator[Any]:
    """``manager_with(resolver)``: a started AccountManager on the client engine whose registrar
    routes go through ``resolver``; back-off on ``clock``."""
    managers: list[AccountManagerBase] = []

    def start(resolver: Any) -> AccountManagerBase:
        manager = AccountManagerBase(
            engine=client,
            clock=clock,
            resolver=resolver,
            backoff=RegistrationBackoff(minimum=30, maximum=1800, jitter=0.0),
        )
        manager.start()
        managers.append(manager)
        return manager

    yield start
    for manager in managers:
        loop.wait(manager.stop(), timeout=5)


def test_a_registrar_domain_without_dns_records_fails_registration_naming_the_domain(
    manager_with, loop, clock, recorder
) -> None:
    """RFC 3263 lookup (as SIPApplication sets it up) of a domain that does not exist: the account
    posts SIPAccountRegistrationDidFail whose error names the domain and says it does not exist,
    with the back-off delay, and retries after it."""
    lookup = DNSLookup(TableResolver({}), hub=GreenHub(loop.reactor))
    manager_with(DNSRouteResolver(["udp", "tcp"], lookup))
    account = registering_account("nowhere.test")
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidFail"), what="the failure")
    [failure] = recorder.named("SIPAccountRegistrationDidFail")
    assert failure.sender is account
    assert "nowhere.test" in failure.data.error and "does not exist" in failure.data.error
    assert failure.data.timeout == 30
    assert not recorder.named("SIPAccountRegistrationDidSucceed")
    clock.advance(30)
    loop.run_until(lambda: len(recorder.named("SIPAccountRegistrationDidFail")) == 2, what="the retry")


def test_a_registrar_host_the_system_cannot_resolve_fails_registration_naming_it(
    manager_with, loop, recorder
) -> None:
    """Without RFC 3263 (the core's host resolver), a name getaddrinfo does not know gives the same
    kind of failure, naming the host and the resolver's reason."""

    def getaddrinfo(host: str, *args: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    pool = loop.reactor.getThreadPool()  # where HostResolver runs getaddrinfo; started by reactor.run()
    pool.start()
    try:
        manager_with(HostResolver(loop.reactor, getaddrinfo=getaddrinfo))
        registering_account("nowhere.test")
        loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidFail"), what="the failure")
    finally:
        pool.stop()
    error = recorder.named("SIPAccountRegistrationDidFail")[0].data.error
    assert "cannot resolve nowhere.test" in error and "Name or service not known" in error
