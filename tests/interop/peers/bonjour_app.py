"""A SIPApplication with its BonjourAccount in a child process, for two-process Bonjour tests.

Unlike the other peers this one *is* the project's code: the interop test needs a second, separate
SIP user agent built on it (its own process, engine, zeroconf sockets and singletons).

The child (``python -m tests.interop.peers.bonjour_app --directory DIR --display-name NAME
--commands FIFO``) starts the process-wide ``SIPApplication`` on a ``FileStorage`` in ``DIR`` with
the engine on 127.0.0.1, the transports of ``--transports`` and the BonjourAccount enabled under
``NAME``, using mDNS on 127.0.0.1 only. It reports on stdout, one line each, ``EVENT <json>`` for
every SIPApplication*, SIPAccount*, BonjourAccount*, SIPEngineGotMessage and SIPMessageDid*
notification: ``event`` (the name), ``sender`` (its class), ``attributes`` (the data's attribute
names), ``types`` (their classes) and ``data`` (the values as text; a BonjourServiceDescription
as its service name). It also reports ``BonjourAppContact`` (``data``: transport -> contact URI of
the account) when the account activates. Commands are JSON lines read from the FIFO:

* ``{"command": "rename", "display_name": "..."}``: saves a new display name for the account;
* ``{"command": "message", "uri": "sip:...", "body": "..."}``: sends a MESSAGE there (the URI is
  also the route), reported through SIPMessageDidSucceed/DidFail;
* ``{"command": "stop"}``: stops the application; the process exits 0 after SIPApplicationDidEnd.

SIGTERM stops it the same way. The test side is `BonjourApp`: it starts the child through
`ManagedProcess` (own process group, log file, reaper), reads the events from the log and writes
the commands.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.support.wait import wait_for

from ._process import ManagedProcess, PeerError

EVENT_PREFIX = "EVENT "
EVENT_WAIT = 15.0  # seconds: the most one mDNS/SIP event may take on loopback (typically ~1-2 s)
REPORTED = ("SIPApplication", "SIPAccount", "BonjourAccount", "SIPEngineGotMessage", "SIPMessageDid")
REPOSITORY = Path(__file__).resolve().parents[3]


# -- the test side ---------------------------------------------------------------------------------


class BonjourApp:
    """The child process seen from the test: ``start()``, ``events()``, ``wait_for()``, ``send()``,
    ``stop()``. Events are the parsed ``EVENT`` lines of its log, in order."""

    def __init__(
        self, directory: Path, display_name: str, transports: Sequence[str] = ("udp", "tcp")
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.display_name = display_name
        self.commands_path = directory / "commands"
        os.mkfifo(self.commands_path)
        argv = [
            sys.executable,
            "-m",
            "tests.interop.peers.bonjour_app",
            "--directory",
            str(directory / "storage"),
            "--display-name",
            display_name,
            "--commands",
            str(self.commands_path),
            "--transports",
            ",".join(transports),
        ]
        env = dict(os.environ, PYTHONPATH=str(REPOSITORY), PYTHONUNBUFFERED="1")
        self.process = ManagedProcess(
            f"bonjour-app {display_name}", argv, directory / "app.log", cwd=REPOSITORY, env=env
        )
        self._events: list[dict[str, Any]] = []
        self._offset = 0
        self._partial = b""
        self._commands: int | None = None

    def __repr__(self) -> str:
        return f"<BonjourApp {self.display_name} {self.process!r}>"

    def start(self, timeout: float = 30.0) -> BonjourApp:
        self.process.start()
        self.process.wait_ready(lambda: self.seen("SIPApplicationDidStart"), timeout, "started")
        if self.seen("SIPApplicationGotFatalError"):
            raise PeerError(f"{self!r} could not start\n{self.process.log_tail()}")
        return self

    def events(self) -> list[dict[str, Any]]:
        """Every event reported so far (reads what the log gained since the last call)."""
        try:
            with open(self.process.log_path, "rb") as log:
                log.seek(self._offset)
                chunk = log.read()
        except OSError:
            chunk = b""
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            text = line.decode("utf-8", "replace")
            if text.startswith(EVENT_PREFIX):
                self._events.append(json.loads(text[len(EVENT_PREFIX) :]))
        return list(self._events)

    def seen(self, event: str, **data: Any) -> list[dict[str, Any]]:
        """The events named ``event`` whose data has these values."""
        return [
            item
            for item in self.events()
            if item["event"] == event and all(item["data"].get(k) == v for k, v in data.items())
        ]

    def wait_for(
        self, event: str, count: int = 1, timeout: float = EVENT_WAIT, **data: Any
    ) -> list[dict[str, Any]]:
        """At least ``count`` events like `seen` finds, within ``timeout`` seconds (polled); fails at
        once if the child exits without them."""
        found: list[dict[str, Any]] = []

        def found_or_exited() -> bool:
            found[:] = self.seen(event, **data)
            if len(found) >= count:
                return True
            if self.process.popen is not None and self.process.popen.poll() is not None and not self._partial:
                found[:] = self.seen(event, **data)  # the last lines may have come with the exit
                return True
            return False

        wait_for(
            found_or_exited,
            lambda: f"{count} x {event} {data} from {self!r}, {len(found)} so far\n{self.process.log_tail()}",
            timeout,
            interval=0.05,
        )
        if len(found) < count:
            raise AssertionError(
                f"{self!r} exited before {count} x {event} {data}\n{self.process.log_tail()}"
            )
        return found

    def send(self, command: str, timeout: float = 5.0, **arguments: Any) -> None:
        """Write one command line to the child's FIFO (opened once it has a reader, bounded)."""
        if self._commands is None:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    self._commands = os.open(self.commands_path, os.O_WRONLY | os.O_NONBLOCK)
                    break
                except OSError as error:  # ENXIO: the child has not opened its end yet
                    if error.errno != errno.ENXIO or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        line = json.dumps({"command": command, **arguments}) + "\n"
        os.write(self._commands, line.encode("utf-8"))

    def stop(self, timeout: float = EVENT_WAIT) -> int | None:
        """Ask the child to stop and wait (bounded) for it to exit; SIGTERM/SIGKILL as a last resort.
        Returns its exit status."""
        popen = self.process.popen
        if popen is not None and popen.poll() is None:
            with contextlib.suppress(OSError):
                self.send("stop")
            with contextlib.suppress(Exception):
                popen.wait(timeout)
        status = self.process.stop()
        if self._commands is not None:
            os.close(self._commands)
            self._commands = None
        self.events()
        return status


# -- the child -------------------------------------------------------------------------------------


def _text(value: Any) -> Any:
    """A JSON form of a notification value (names for service descriptions, text for the rest)."""
    from sipsimple.account.bonjour import BonjourServiceDescription

    if isinstance(value, BonjourServiceDescription):
        return value.name
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return [_text(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _text(item) for key, item in value.items()}
    return str(value)


class _Reporter:
    """Prints the notifications the test wants to see; notices the end of the application."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self._lock = threading.Lock()

    def emit(self, event: str, sender: object = None, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        line = {
            "event": event,
            "sender": type(sender).__name__,
            "attributes": sorted(data),
            "types": {key: type(value).__name__ for key, value in data.items()},
            "data": {key: _text(value) for key, value in data.items()},
        }
        with self._lock:
            sys.stdout.write(EVENT_PREFIX + json.dumps(line) + "\n")
            sys.stdout.flush()

    def handle_notification(self, notification: Any) -> None:
        from sipsimple.account import BonjourAccount

        if notification.name.startswith(REPORTED):
            self.emit(notification.name, notification.sender, dict(vars(notification.data)))
        if notification.name == "SIPAccountDidActivate" and isinstance(notification.sender, BonjourAccount):
            account = notification.sender
            contacts = {}
            for transport in ("udp", "tcp", "tls"):
                with contextlib.suppress(KeyError):
                    contacts[transport] = str(account.contact[transport])
            self.emit("BonjourAppContact", account, contacts)
        if notification.name == "SIPApplicationDidEnd":
            self.ended.set()


def _rename(display_name: str) -> None:
    from sipsimple.account import BonjourAccount

    account: Any = BonjourAccount()
    account.display_name = display_name
    account.save()


def _send_message(engine: Any, uri_text: str, body: str) -> None:
    from sipsimple.account import BonjourAccount
    from sipsimple.core.primitives import Message
    from sipsimple.core.sip.headers import FromHeader, RouteHeader, ToHeader
    from sipsimple.core.sip.uri import SIPURI

    account: Any = BonjourAccount()
    uri = SIPURI.parse(uri_text)
    sender = FromHeader(account.contact[uri], account.display_name)
    Message(sender, ToHeader(uri), RouteHeader(uri), "text/plain", body, engine=engine).send(timeout=5.0)


def _follow_commands(path: str, application: Any, reporter: _Reporter) -> None:
    # O_RDWR: opening does not wait for the writer, and the end of one writer is no end of input
    with open(os.open(path, os.O_RDWR), encoding="utf-8") as commands:
        for line in commands:
            try:
                command = json.loads(line)
                name = command["command"]
                if name == "stop":
                    application.stop()
                elif name == "rename":
                    application.twisted_thread.call(_rename, command["display_name"])
                elif name == "message":
                    application.twisted_thread.call(
                        _send_message, application.engine, command["uri"], command["body"]
                    )
                else:
                    raise KeyError(name)
            except (ValueError, KeyError, TypeError) as error:
                reporter.emit("BonjourAppBadCommand", None, {"line": line.strip(), "error": repr(error)})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directory", required=True, help="where the FileStorage keeps its files")
    parser.add_argument("--display-name", required=True)
    parser.add_argument("--commands", required=True, help="a FIFO to read JSON commands from")
    parser.add_argument("--transports", default="udp,tcp")
    args = parser.parse_args(argv)

    from sipsimple.account import AccountManager
    from sipsimple.application import SIPApplication
    from sipsimple.notification import NotificationCenter
    from sipsimple.storage import FileStorage

    storage = FileStorage(args.directory)
    storage.configuration_backend.save(
        {
            "SIPSimpleSettings": {"sip": {"transport_list": args.transports.split(",")}},
            "Accounts": {"bonjour@local": {"enabled": "true", "display_name": args.display_name}},
        }
    )
    application = SIPApplication()
    application.engine_options = {"ip_address": "127.0.0.1"}
    application.dns_nameservers = ["127.0.0.1"]  # nothing here may query beyond loopback
    AccountManager().bonjour_interfaces = ["127.0.0.1"]
    reporter = _Reporter()
    NotificationCenter().add_observer(reporter)
    signal.signal(signal.SIGTERM, lambda number, frame: application.stop())
    threading.Thread(
        target=_follow_commands, args=(args.commands, application, reporter), name="commands", daemon=True
    ).start()
    application.start(storage)
    while not reporter.ended.wait(0.2):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
