"""The main job for now: start the SDK, register an account, stop, and say what happened.

    python -m sipsimple.selfcheck [--storage DIR]

It starts ``SIPApplication`` with a FileStorage (a temporary directory unless one is given), starts
an in-process registrar (a second SIPEngine on the same reactor, answering REGISTER with digest
authentication), creates an account that registers there through its outbound proxy, runs green
threads that wait on timers and on work done in a named worker thread, scans a SIP INVITE with the C
scanner, then stops the application (the account unregisters) and checks that no thread is left
behind. Every notification posted meanwhile is printed as a timeline.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred

import sipsimple
from sipsimple.notification import Notification, NotificationCenter

SAMPLE_INVITE = (
    b"INVITE sip:bob@example.test SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-selfcheck;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"f: Alice <sip:alice@example.test>;tag=1928301774\r\n"
    b"t: Bob <sip:bob@example.test>\r\n"
    b"i: a84b4c76e66710@127.0.0.1\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:alice@127.0.0.1:5062>\r\n"
    b"Content-Length: 0\r\n\r\n"
)


class Timeline:
    """Prints each notification with the time since the start."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.count = 0

    def handle_notification(self, notification: Notification) -> None:
        self.count += 1
        attributes = {k: v for k, v in vars(notification.data).items() if k != "timestamp"}
        details = ", ".join(f"{k}={_short(v)}" for k, v in attributes.items())
        print(
            f"  {1000 * (time.monotonic() - self.start):7.1f} ms  {notification.name}"
            f"  sender={_short(notification.sender)}" + (f"  {details}" if details else "")
        )


def _short(value: Any, limit: int = 70) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def step(text: str) -> None:
    print(f"- {text}")


class SelfCheckRegistrar:
    """A registrar for the self-check: digest (MD5) for alice, bindings kept in a dict."""

    def __init__(self, engine: Any, passwords: dict[str, str]) -> None:
        from sipsimple.core.sip.auth import DigestServer

        counter = iter(range(1_000_000))
        self.engine = engine
        self.bindings: dict[str, Any] = {}
        self.digest = DigestServer(
            "example.test",
            passwords.get,
            lambda: f"selfcheck{next(counter)}",
            time.monotonic,
            algorithms=("MD5",),
        )
        engine.register_method_handler("REGISTER", self._register)

    @property
    def proxy(self) -> str:
        return f"127.0.0.1:{self.engine.local_address('udp').port};transport=udp"

    def _register(self, transaction: Any) -> None:
        from sipsimple.core.sip.auth import Verdict
        from sipsimple.core.sip.headers import frozen, mutable
        from sipsimple.core.sip.message import make_response

        request = transaction.request
        verdicts = [
            self.digest.check(header.body, request.method, request.request_uri, request.body)
            for header in request.get_all("Authorization")
        ]
        if Verdict.ACCEPTED not in verdicts:
            challenge = self.digest.challenge(stale=Verdict.STALE in verdicts)
            transaction.send_response(make_response(request, 401, headers=[("WWW-Authenticate", challenge)]))
            return
        header = request.get("Expires")
        default = 3600 if header is None else int(header)
        for contact in request.get_all("Contact"):
            expires = default if contact.expires is None else contact.expires
            if expires:
                self.bindings[str(contact.uri)] = (contact, expires)
            else:
                self.bindings.pop(str(contact.uri), None)
        answer = []
        for contact, expires in self.bindings.values():
            copy = mutable(contact)
            copy.expires = expires
            answer.append(frozen(copy))
        headers = [("Contact", answer)] if answer else []
        transaction.send_response(make_response(request, 200, to_tag="selfcheck", headers=headers))


def start_registrar_and_account(engine_reactor: Any) -> tuple[SelfCheckRegistrar, Any]:
    """Runs on the reactor thread: a registrar engine, and an account registering there."""
    from sipsimple.account import Account
    from sipsimple.core.engine import SIPEngine

    engine = SIPEngine(reactor=engine_reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None)
    registrar = SelfCheckRegistrar(engine, {"alice": "secret-alice"})
    # Settings groups are resolved at run time; static checkers see class attributes, hence Any.
    account: Any = Account("alice@example.test")
    account.enabled = True
    account.display_name = "Alice"
    account.auth.password = "secret-alice"
    account.sip.outbound_proxy = registrar.proxy
    account.sip.register_interval = 600
    account.save()
    return registrar, account


def seed_settings(storage: Any) -> None:
    """Only UDP and TCP (TLS would need a certificate), before the application loads them."""
    backend = storage.configuration_backend
    data = backend.load()
    data.setdefault("SIPSimpleSettings", {}).setdefault("sip", {})["transport_list"] = ["udp", "tcp"]
    backend.save(data)


class Waiter:
    """Sets an event when a notification with one of the given names arrives (any thread)."""

    def __init__(self, *names: str) -> None:
        self.events = {name: threading.Event() for name in names}

    def handle_notification(self, notification: Notification) -> None:
        event = self.events.get(notification.name)
        if event is not None:
            event.set()

    def wait(self, name: str, timeout: float = 10.0) -> bool:
        return self.events[name].wait(timeout)


def green_work(config_file: str) -> dict[str, Any]:
    """Runs in a green thread: timers and a worker thread, without blocking the reactor."""
    from sipsimple.threading import call_in_thread, call_in_twisted_thread
    from sipsimple.threading.green import Event, block_on, call_in_green_thread, sleep

    woke: list[float] = []
    done: Event[None] = Event()

    def sleeper(delay: float) -> None:
        sleep(delay)
        woke.append(delay)
        if len(woke) == 3:
            done.send()

    for delay in (0.03, 0.01, 0.02):
        call_in_green_thread(sleeper, delay)
    done.wait(timeout=5)

    digest: Deferred[str] = Deferred()

    def hash_file() -> None:  # runs in the 'file-io' worker thread
        value = hashlib.sha256(Path(config_file).read_bytes()).hexdigest()
        call_in_twisted_thread(digest.callback, value)

    call_in_thread("file-io", hash_file)
    return {"wake_order": woke, "config_sha256": block_on(digest, timeout=5)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", type=Path, help="configuration directory (default: a temporary one)")
    args = parser.parse_args(argv)

    from sipsimple.application import SIPApplication
    from sipsimple.core.sip._scanner import scan
    from sipsimple.storage import FileStorage
    from sipsimple.threading import ThreadManager, get_twisted_thread
    from sipsimple.threading.green import call_in_waitable_green_thread

    print(f"sipsimple {sipsimple.__version__} self-check")
    threads_before = {t.ident for t in threading.enumerate()}
    timeline = Timeline()
    waiter = Waiter(
        "SIPApplicationDidStart", "SIPApplicationDidEnd", "SIPAccountRegistrationDidSucceed",
        "SIPAccountRegistrationDidEnd",
    )  # fmt: skip
    center = NotificationCenter()
    center.add_observer(timeline)
    center.add_observer(waiter)
    temporary = None if args.storage else tempfile.TemporaryDirectory(prefix="sipsimple-selfcheck-")
    storage_directory = args.storage or Path(temporary.name)  # type: ignore[union-attr]
    application = SIPApplication()
    application.engine_options = {"ip_address": "127.0.0.1"}  # loopback only
    twisted_thread = get_twisted_thread()
    registered = unregistered = ended = False
    registrar: SelfCheckRegistrar | None = None
    try:
        storage = FileStorage(storage_directory)
        seed_settings(storage)
        step(f"starting SIPApplication with the configuration in {storage_directory}; notifications:")
        application.start(storage)
        if not waiter.wait("SIPApplicationDidStart"):
            raise RuntimeError("SIPApplicationDidStart did not come")
        engine = application.engine
        step(f"engine on UDP {engine.local_udp_port}, TCP {engine.local_tcp_port}")

        step("an in-process registrar (digest auth) and an account registering through it:")
        registrar, _account = twisted_thread.call_and_wait(
            start_registrar_and_account, engine.reactor, timeout=10
        )
        registered = waiter.wait("SIPAccountRegistrationDidSucceed")
        step(f"registered: {registered}; the registrar holds {sorted(registrar.bindings)}")
        print("  " + "\n  ".join((storage_directory / "config").read_text().splitlines()))

        step("green threads: three sleepers and a digest computed in the 'file-io' worker thread")
        result: dict[str, Any] = twisted_thread.call_and_wait(
            lambda: call_in_waitable_green_thread(green_work, storage_directory / "config").as_deferred(),
            timeout=10,
        )
        step(
            f"sleepers woke in order {result['wake_order']}; config sha256 {result['config_sha256'][:16]}..."
        )

        message = scan(SAMPLE_INVITE)
        step(
            f"C scanner: {message.method} {message.request_uri}, Call-ID {message.get('Call-ID')}, "
            f"From {message.get('From')}, {message.header_count} headers"
        )

        step("stopping SIPApplication (the account unregisters)")
        registrar_engine = registrar.engine
        center.add_observer(_StopWith(registrar_engine), name="SIPEngineWillEnd", sender=engine)
        application.stop()
        ended = waiter.wait("SIPApplicationDidEnd", timeout=15)
        unregistered = waiter.events["SIPAccountRegistrationDidEnd"].is_set() and not registrar.bindings
        step(f"application ended: {ended}; unregistered: {unregistered}")
    finally:
        if application.running:
            application.stop()
            waiter.wait("SIPApplicationDidEnd", timeout=15)
        thread = twisted_thread.thread
        if thread is not None:
            thread.join(10)
        stopped = thread is None or not thread.is_alive()
        workers_stopped = ThreadManager().stop(timeout=10)
        center.discard_observer(timeline)
        center.discard_observer(waiter)
        if temporary is not None:
            temporary.cleanup()
    leftovers = [t.name for t in threading.enumerate() if t.ident not in threads_before]
    step(f"reactor stopped: {stopped}; worker threads stopped: {workers_stopped}; threads left: {leftovers}")
    ok = stopped and workers_stopped and not leftovers and registered and unregistered and ended
    print(f"self-check {'passed' if ok else 'FAILED'}: {timeline.count} notifications observed")
    return 0 if ok else 1


class _StopWith:
    """Stops the registrar's engine with the application's (the accounts have unregistered by then)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def handle_notification(self, notification: Notification) -> None:
        self.engine.stop()


if __name__ == "__main__":
    raise SystemExit(main())
