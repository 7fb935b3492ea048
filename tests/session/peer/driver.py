"""The test side of a peer process (``main.py``): start it, send commands, wait for its lines.

Every wait is bounded; a peer that died, or a wait that timed out, fails with the peer's last lines
and its stderr. ``close()`` asks the process to quit and kills it when it does not within a bound,
so no test leaves a process behind."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from typing import Any

from tests.conftest import REPOSITORY


class PeerError(AssertionError):
    """A command failed in the peer, or an awaited line did not come."""


class PeerProcess:
    """One ``python -m tests.session.peer.main`` process and everything it printed."""

    def __init__(self, user: str, *options: str) -> None:
        self.user = user
        self.process = subprocess.Popen(
            [sys.executable, "-W", "error", "-m", "tests.session.peer.main", "--ip", "127.0.0.1", "--user", user, *options],
            cwd=REPOSITORY, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.records: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._readers = [
            threading.Thread(target=self._read_stdout, name=f"peer-{user}-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name=f"peer-{user}-stderr", daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.port: int = 0
        self.contact_user: str = ""

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                record = {"text": line.rstrip()}
            with self._changed:
                self.records.append(record)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.rstrip())

    # -- waiting ----------------------------------------------------------------------------------

    def _wait(self, match: Any, what: str, timeout: float, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for record in self.records[after:]:
                    if match(record):
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self._readers[0].is_alive()):
                    raise PeerError(f"{self.user}: no {what} within {timeout} s\n{self.tail()}")
                self._changed.wait(min(remaining, 0.5))

    def tail(self, lines: int = 25) -> str:
        shown = [json.dumps(r) for r in self.records[-lines:]]
        return "\n".join(["-- last lines:", *shown, "-- stderr:", *self.stderr[-15:]])

    def ready(self, timeout: float = 30.0) -> None:
        record = self._wait(lambda r: "ready" in r, "ready line", timeout)
        self.port, self.contact_user = record["udp"], record["user"]

    @property
    def uri(self) -> str:
        return f"sip:{self.contact_user}@127.0.0.1:{self.port}"

    def mark(self) -> int:
        """A position in the output: ``wait_for(..., after=mark)`` looks at later lines only."""
        with self._changed:
            return len(self.records)

    def wait_for(self, name: str, timeout: float = 10.0, after: int = 0, **data: Any) -> dict[str, Any]:
        """The data of the first notification ``name`` (from ``after`` on) whose data has the
        given attribute values; PeerError after ``timeout`` seconds."""

        def match(record: dict[str, Any]) -> bool:
            if record.get("event") != name:
                return False
            return all(record["data"].get(key) == value for key, value in data.items())

        shown = name + (f" with {data}" if data else "")
        return dict(self._wait(match, shown, timeout, after)["data"])

    def events(self, name: str, after: int = 0) -> list[dict[str, Any]]:
        """The data of every notification ``name`` received so far (from ``after`` on)."""
        with self._changed:
            return [dict(r["data"]) for r in self.records[after:] if r.get("event") == name]

    def sip(self, direction: str, start: str, after: int = 0) -> list[dict[str, Any]]:
        """The SIP messages ``direction`` ('in'/'out') whose start line begins with ``start``."""
        with self._changed:
            return [
                r for r in self.records[after:] if r.get("sip") == direction and r["line"].startswith(start)
            ]

    # -- commands ---------------------------------------------------------------------------------

    def command(self, cmd: str, timeout: float = 10.0, **arguments: Any) -> Any:
        """Runs ``cmd`` in the peer and returns its result; PeerError when it failed there."""
        number = next(self._ids)
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": number, "cmd": cmd, **arguments}) + "\n")
        self.process.stdin.flush()
        reply = self._wait(lambda r: r.get("reply") == number, f"reply to {cmd}", timeout)
        if not reply["ok"]:
            raise PeerError(f"{self.user}: {cmd} failed: {reply['error']}")
        return reply["result"]

    def state(self) -> dict[str, Any]:
        return dict(self.command("state"))

    def close(self, timeout: float = 15.0) -> None:
        """Asks the process to quit; kills it when it has not exited within ``timeout`` seconds."""
        try:
            if self.process.poll() is None and self.process.stdin is not None:
                self.process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        for reader in self._readers:
            reader.join(5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def errors(self) -> str:
        """The peer's stderr when it holds a traceback (an exception the peer only logged), else ''."""
        text = "\n".join(self.stderr)
        return text if "Traceback" in text else ""

    def __enter__(self) -> PeerProcess:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
