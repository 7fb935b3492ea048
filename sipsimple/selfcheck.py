"""The main job for now: start the SDK machinery that exists, use it, stop it, and say what happened.

    python -m sipsimple.selfcheck [--storage DIR]

It starts the Twisted thread, loads the configuration from a FileStorage (a temporary directory unless
one is given), creates and saves an account, runs green threads that wait on timers and on work done in
a named worker thread, scans a SIP INVITE with the C scanner, then stops everything and checks that no
thread is left behind. Every notification posted meanwhile is printed as a timeline.
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


def configure(storage_directory: Path) -> dict[str, Any]:
    """Runs on the reactor thread: load the configuration, create and save an account."""
    from sipsimple.account import Account
    from sipsimple.configuration import ConfigurationManager
    from sipsimple.configuration.settings import SIPSimpleSettings
    from sipsimple.storage import FileStorage

    storage = FileStorage(storage_directory)
    manager = ConfigurationManager()
    manager.start(storage.configuration_backend)
    # Settings groups are resolved at run time; static checkers see class attributes, hence Any.
    settings: Any = SIPSimpleSettings()
    settings.sip.transport_list = ["tls", "udp"]
    settings.save()
    account: Any = Account("alice@example.test")
    account.enabled = True
    account.auth.password = "secret-alice"
    account.sip.outbound_proxy = "127.0.0.1:5060;transport=udp"
    account.save()
    account.display_name = "Alice"
    account.save()
    return {
        "file": storage_directory / "config",
        "accounts": manager.get_names(["Accounts"]),
        "transports": [str(transport) for transport in settings.sip.transport_list],
    }


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

    from sipsimple.core.sip._scanner import scan
    from sipsimple.threading import ThreadManager, start_twisted_thread, stop_twisted_thread
    from sipsimple.threading.green import call_in_waitable_green_thread

    print(f"sipsimple {sipsimple.__version__} self-check")
    threads_before = {t.ident for t in threading.enumerate()}
    timeline = Timeline()
    NotificationCenter().add_observer(timeline)
    temporary = None if args.storage else tempfile.TemporaryDirectory(prefix="sipsimple-selfcheck-")
    storage_directory = args.storage or Path(temporary.name)  # type: ignore[union-attr]
    try:
        step("starting the Twisted thread")
        twisted_thread = start_twisted_thread()
        step(f"loading the configuration from {storage_directory} and saving an account; notifications:")
        configured = twisted_thread.call_and_wait(configure, storage_directory, timeout=10)
        step(f"stored accounts {configured['accounts']}, transports {configured['transports']}")
        print("  " + "\n  ".join(Path(configured["file"]).read_text().splitlines()))

        step("green threads: three sleepers and a digest computed in the 'file-io' worker thread")
        result: dict[str, Any] = twisted_thread.call_and_wait(
            lambda: call_in_waitable_green_thread(green_work, configured["file"]).as_deferred(), timeout=10
        )
        step(
            f"sleepers woke in order {result['wake_order']}; config sha256 {result['config_sha256'][:16]}..."
        )

        message = scan(SAMPLE_INVITE)
        step(
            f"C scanner: {message.method} {message.request_uri}, Call-ID {message.get('Call-ID')}, "
            f"From {message.get('From')}, {message.header_count} headers"
        )

        step("stopping")
        twisted_thread.call_and_wait(_stop_configuration, timeout=10)
    finally:
        stopped = stop_twisted_thread(timeout=10)
        workers_stopped = ThreadManager().stop(timeout=10)
        NotificationCenter().discard_observer(timeline)
        if temporary is not None:
            temporary.cleanup()
    leftovers = [t.name for t in threading.enumerate() if t.ident not in threads_before]
    step(f"reactor stopped: {stopped}; worker threads stopped: {workers_stopped}; threads left: {leftovers}")
    ok = stopped and workers_stopped and not leftovers
    print(f"self-check {'passed' if ok else 'FAILED'}: {timeline.count} notifications observed")
    return 0 if ok else 1


def _stop_configuration() -> None:
    from sipsimple.configuration import ConfigurationManager

    ConfigurationManager().stop()


if __name__ == "__main__":
    raise SystemExit(main())
