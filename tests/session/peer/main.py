"""A sipsimple endpoint for tests, run as its own process:

    python -m tests.session.peer.main --ip 127.0.0.1 --user alice [--answer manual] [--proposals auto]
        [--srtp sdes_optional|sdes_mandatory]

A SIPApplication (FileStorage in a temporary directory, no sound devices: the null device drives
the voice mixer) with one Account that does not register. Its SessionManager's incoming sessions
are accepted with their AudioStreams (``--answer auto``, the default) or wait for ``accept`` /
``reject``; the peer's proposals wait for ``accept_proposal`` / ``reject_proposal`` unless
``--proposals auto``.

stdin carries one JSON command per line, ``{"id": n, "cmd": name, ...arguments}``:

    call {uri, streams=1}   ring   accept   reject {code}   hold   unhold
    add_audio   remove_audio {index}   accept_proposal   reject_proposal {code}
    cancel_proposal   end   state   quit

``state`` answers with the latest session's state and each stream's hold flags and RTP statistics.
Any command may carry ``at``, a ``time.monotonic()`` instant (the clock every process on the host
shares): the command runs then, so two processes can send a re-INVITE at the same moment. Commands act on the latest
session. stdout carries one JSON object per line:

* ``{"ready": true, "udp": port, "user": contact user}`` once the application runs;
* ``{"event": name, "sender": "session:N" | "stream:N", "data": {...}}`` for every Session,
  MediaStream and AudioStream notification (streams in the data appear as ``"stream:N"``; the
  timestamp is left out);
* ``{"sip": "in" | "out", "line": start line, "cseq": CSeq value}`` for every SIP message;
* ``{"reply": id, "ok": true, "result": ...}`` or ``{"reply": id, "ok": false, "error": text}``
  once a command ran (for ``at`` commands: once it was scheduled; a failure when it runs is
  ``{"late_error": id, "error": text}``);
* ``{"done": true}`` last.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sipsimple.notification import Notification, NotificationCenter

REPORTED_PREFIXES = ("SIPSession", "MediaStream", "AudioStream")
CSEQ = re.compile(rb"^(?:CSeq)[ \t]*:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)
SPIN = 0.005  # the last seconds before an ``at`` instant are waited in a loop, not by the reactor

_output_lock = threading.Lock()


def emit(record: dict[str, Any]) -> None:
    with _output_lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


def seed_settings(storage: Any) -> None:
    """UDP and TCP (an offer that outgrows UDP moves to TCP, RFC 3261 section 18.1.1), no sound
    devices, a 16 kHz mixer without echo canceller."""
    backend = storage.configuration_backend
    data = backend.load()
    settings = data.setdefault("SIPSimpleSettings", {})
    settings.setdefault("sip", {})["transport_list"] = ["udp", "tcp"]
    audio = settings.setdefault("audio", {})
    audio.update(input_device=None, output_device=None, alert_device=None, sample_rate="16000")
    audio.setdefault("echo_canceller", {})["enabled"] = "false"
    backend.save(data)


def free_port_pair(address: str, attempts: int = 20) -> int:
    """A port number free for both UDP and TCP on ``address`` just now."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((address, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((address, port))
                except OSError:
                    continue
                return port
    raise RuntimeError(f"no port free for both UDP and TCP on {address}")


class Peer:
    """Owns the application, the account and the sessions; every method but ``run_command``'s
    caller runs on the reactor thread."""

    def __init__(self, answer: str, proposals: str, srtp: str | None = None) -> None:
        self.answer = answer
        self.proposals = proposals
        self.srtp = srtp
        self.application: Any = None
        self.account: Any = None
        self.sessions: list[Any] = []
        self.streams: list[Any] = []  # kept alive so that their numbers stay unique
        self.started = threading.Event()
        self.ended = threading.Event()

    # -- identities -------------------------------------------------------------------------------

    def name_of(self, value: Any) -> str | None:
        from sipsimple.session import Session
        from sipsimple.streams.rtp import AudioStream

        if isinstance(value, Session):
            if value not in self.sessions:
                self.sessions.append(value)
            return f"session:{self.sessions.index(value)}"
        if isinstance(value, AudioStream):
            if not any(value is known for known in self.streams):
                self.streams.append(value)
            return f"stream:{next(i for i, known in enumerate(self.streams) if known is value)}"
        return None

    def jsonable(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [self.jsonable(item) for item in value]
        if isinstance(value, dict):
            return {str(key): self.jsonable(item) for key, item in value.items()}
        name = self.name_of(value)
        return name if name is not None else str(value)

    # -- notifications ----------------------------------------------------------------------------

    def handle_notification(self, notification: Notification) -> None:
        name, sender, data = notification.name, notification.sender, notification.data
        if name == "SIPApplicationDidStart":
            self.started.set()
        elif name == "SIPApplicationDidEnd":
            self.ended.set()
        elif name == "SIPEngineSIPTrace":
            self._trace(data)
        elif name.startswith(REPORTED_PREFIXES):
            sender_name = self.name_of(sender)
            if sender_name is None:
                return
            attributes = {k: self.jsonable(v) for k, v in vars(data).items() if k != "timestamp"}
            emit({"event": name, "sender": sender_name, "data": attributes})
            self._react(name, sender, data)

    def _trace(self, data: Any) -> None:
        raw: bytes = data.data
        line = raw.split(b"\r\n", 1)[0].decode("utf-8", "replace")
        if not line:
            return  # a keep-alive
        match = CSEQ.search(raw)
        cseq = match.group(1).decode("utf-8", "replace") if match else None
        emit({"sip": "in" if data.received else "out", "line": line, "cseq": cseq})

    def _react(self, name: str, sender: Any, data: Any) -> None:
        reactor = self.application.engine.reactor
        if name == "SIPSessionNewIncoming" and self.answer == "auto":
            reactor.callLater(0, self._accept_incoming, sender)
        elif name == "SIPSessionGotProposal" and data.originator == "remote" and self.proposals == "auto":
            reactor.callLater(0, self._accept_proposal, sender)

    @staticmethod
    def _accept_incoming(session: Any) -> None:
        if session.state == "incoming":
            session.accept(session.proposed_streams)

    @staticmethod
    def _accept_proposal(session: Any) -> None:
        if session.state == "received_proposal":
            session.accept_proposal(session.proposed_streams)

    # -- commands ---------------------------------------------------------------------------------

    @property
    def session(self) -> Any:
        if not self.sessions:
            raise RuntimeError("there is no session")
        return self.sessions[-1]

    def run(self, command: dict[str, Any]) -> Any:
        """Runs one command on the reactor thread; its result is JSON-able."""
        name = command["cmd"]
        at = command.get("at")
        if at is not None:
            reactor = self.application.engine.reactor
            reactor.callLater(max(0.0, at - time.monotonic() - SPIN), self._at, at, command)
            return "scheduled"
        return getattr(self, f"do_{name}")(command)

    def _at(self, at: float, command: dict[str, Any]) -> None:
        while time.monotonic() < at:
            pass
        try:
            getattr(self, f"do_{command['cmd']}")(command)
        except Exception as error:  # reported like any command's failure
            emit({"late_error": command.get("id"), "error": f"{type(error).__name__}: {error}"})

    def do_call(self, command: dict[str, Any]) -> Any:
        from sipsimple.core.sip.headers import ToHeader
        from sipsimple.core.sip.uri import parse_uri
        from sipsimple.lookup import Route
        from sipsimple.session import Session
        from sipsimple.streams.rtp import AudioStream

        uri = parse_uri(command["uri"])
        streams = [AudioStream() for _ in range(int(command.get("streams", 1)))]
        session = Session(self.account)
        self.name_of(session)
        session.connect(ToHeader(uri), [Route(uri.host, uri.port, "udp")], streams)
        return self.name_of(session)

    def do_ring(self, command: dict[str, Any]) -> Any:
        self.session.send_ring_indication()

    def do_accept(self, command: dict[str, Any]) -> Any:
        self.session.accept(self.session.proposed_streams)

    def do_reject(self, command: dict[str, Any]) -> Any:
        self.session.reject(int(command.get("code", 603)))

    def do_hold(self, command: dict[str, Any]) -> Any:
        self.session.hold()

    def do_unhold(self, command: dict[str, Any]) -> Any:
        self.session.unhold()

    def do_add_audio(self, command: dict[str, Any]) -> Any:
        from sipsimple.streams.rtp import AudioStream

        stream = AudioStream()
        self.session.add_stream(stream)
        return self.name_of(stream)

    def do_remove_audio(self, command: dict[str, Any]) -> Any:
        stream = self.session.streams[int(command["index"])]
        self.session.remove_stream(stream)
        return self.name_of(stream)

    def do_accept_proposal(self, command: dict[str, Any]) -> Any:
        self.session.accept_proposal(self.session.proposed_streams)

    def do_reject_proposal(self, command: dict[str, Any]) -> Any:
        self.session.reject_proposal(int(command.get("code", 488)))

    def do_cancel_proposal(self, command: dict[str, Any]) -> Any:
        self.session.cancel_proposal()

    def do_end(self, command: dict[str, Any]) -> Any:
        self.session.end()

    def do_state(self, command: dict[str, Any]) -> Any:
        """The latest session's state, hold flags and every stream's statistics."""
        if not self.sessions:
            return {"session": None}
        session = self.session
        streams = []
        for stream in session.streams:
            streams.append({
                "stream": self.name_of(stream), "codec": stream.codec, "srtp_active": stream.srtp_active,
                "on_hold_by_local": stream.on_hold_by_local,
                "on_hold_by_remote": stream.on_hold_by_remote, "statistics": self.jsonable(stream.statistics),
            })  # fmt: skip
        return {
            "session": self.name_of(session), "state": session.state, "on_hold": session.on_hold,
            "streams": streams, "proposed_streams": self.jsonable(session.proposed_streams),
        }  # fmt: skip

    # -- start and stop ---------------------------------------------------------------------------

    def start(self, ip: str, user: str, directory: Path) -> None:
        from sipsimple.application import SIPApplication
        from sipsimple.storage import FileStorage

        NotificationCenter().add_observer(self)
        storage = FileStorage(directory)
        seed_settings(storage)
        self.application = SIPApplication()
        port = free_port_pair(ip)  # one number for both, so that TCP reaches the same listener
        self.application.engine_options = {
            "ip_address": ip,
            "udp_port": port,
            "tcp_port": port,
            "trace_sip": True,
        }
        self.application.start(storage)
        if not self.started.wait(20):
            raise RuntimeError("the SIP application did not start within 20 s")
        self.account = self.call(self._make_account, user, self.srtp)

    @staticmethod
    def _make_account(user: str, srtp: str | None) -> Any:
        from sipsimple.account import Account

        account: Any = Account(f"{user}@example.test")
        account.enabled = True
        account.sip.register = False
        account.rtp.encryption.enabled = srtp is not None
        if srtp is not None:
            account.rtp.encryption.key_negotiation = srtp
        account.save()
        return account

    def call(self, func: Any, *args: Any) -> Any:
        from sipsimple.threading import call_in_twisted_thread_and_wait

        return call_in_twisted_thread_and_wait(func, *args, timeout=10)

    def stop(self) -> None:
        from sipsimple.threading import ThreadManager, get_twisted_thread

        if self.application is not None and self.application.running:
            self.application.stop()
            self.ended.wait(10)
        thread = get_twisted_thread().thread
        if thread is not None:
            thread.join(10)
        ThreadManager().stop(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--user", required=True)
    parser.add_argument("--answer", choices=("auto", "manual"), default="auto")
    parser.add_argument("--proposals", choices=("auto", "manual"), default="manual")
    parser.add_argument(
        "--srtp", choices=("sdes_optional", "sdes_mandatory"), help="SDES-SRTP (default: none)"
    )
    args = parser.parse_args(argv)

    peer = Peer(args.answer, args.proposals, args.srtp)
    with tempfile.TemporaryDirectory(prefix=f"sipsimple-peer-{args.user}-") as directory:
        try:
            peer.start(args.ip, args.user, Path(directory))
            udp = peer.application.engine.local_udp_port
            emit({"ready": True, "udp": udp, "user": peer.account.contact.username})
            for line in sys.stdin:
                if not line.strip():
                    continue
                command = json.loads(line)
                if command["cmd"] == "quit":
                    break
                try:
                    result = peer.call(peer.run, command)
                except Exception as error:  # the driver raises it in the test
                    emit(
                        {"reply": command.get("id"), "ok": False, "error": f"{type(error).__name__}: {error}"}
                    )
                else:
                    emit({"reply": command.get("id"), "ok": True, "result": result})
        finally:
            peer.stop()
            emit({"done": True})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
