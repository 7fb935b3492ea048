"""What both demo processes share: a SIPApplication on loopback with its own FileStorage in a
temporary directory, no sound devices (the null device drives a 16 kHz voice mixer), SIP on UDP
and TCP, and one account that does not register; plus a JSON-able notification timeline."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sipsimple.notification import Notification, NotificationCenter

SAMPLE_RATE = 16000


def seed_settings(storage: Any, trace_sip: bool = False) -> None:
    """Written before the application loads them: UDP and TCP (an offer that outgrows UDP moves to
    TCP), no sound devices, a 16 kHz mixer without echo canceller; ``trace_sip`` turns on the
    engine's SIPEngineSIPTrace notifications."""
    backend = storage.configuration_backend
    data = backend.load()
    settings = data.setdefault("SIPSimpleSettings", {})
    settings.setdefault("sip", {})["transport_list"] = ["udp", "tcp"]
    settings.setdefault("logs", {})["trace_sip"] = "true" if trace_sip else "false"
    audio = settings.setdefault("audio", {})
    audio.update(input_device=None, output_device=None, alert_device=None, sample_rate=str(SAMPLE_RATE))
    audio.setdefault("echo_canceller", {})["enabled"] = "false"
    backend.save(data)


def short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Recorder:
    """Keeps (seconds since start, name, sender, data) of every notification; any thread."""

    def __init__(self, names: set[str] | None = None) -> None:
        self.start = time.monotonic()
        self.names = names
        self.entries: list[tuple[float, str, Any, dict[str, Any]]] = []
        self.lock = threading.Condition()

    def handle_notification(self, notification: Notification) -> None:
        if self.names is not None and notification.name not in self.names:
            return
        data = {k: v for k, v in vars(notification.data).items() if k != "timestamp"}
        with self.lock:
            self.entries.append((time.monotonic() - self.start, notification.name, notification.sender, data))
            self.lock.notify_all()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def wait_for(self, name: str, sender: Any = None, timeout: float = 10.0) -> dict[str, Any] | None:
        """The data of the first ``name`` notification (from ``sender`` if given), waiting up to
        ``timeout`` s; None if none came."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for _, entry_name, entry_sender, data in self.entries:
                    if entry_name == name and (sender is None or entry_sender is sender):
                        return data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.lock.wait(remaining)


class SIPTraceWriter:
    """Appends every SIP message the engine sends or receives (SIPEngineSIPTrace) to a text file:
    a line ``SENT|RECEIVED TRANSPORT SOURCE -> DESTINATION (N bytes)``, then the message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        path.write_text("")

    def handle_notification(self, notification: Notification) -> None:
        data: Any = notification.data
        direction = "RECEIVED" if data.received else "SENT"
        head = (
            f"{direction} {str(data.transport).upper()} {data.source_ip}:{data.source_port} -> "
            f"{data.destination_ip}:{data.destination_port} ({len(data.data)} bytes)"
        )
        text = bytes(data.data).decode("utf-8", "replace").replace("\r\n", "\n")
        with self.lock, self.path.open("a") as out:
            out.write(f"{head}\n{text.rstrip()}\n\n")


def free_port_pair(address: str, attempts: int = 20) -> int:
    """A port number free for both UDP and TCP on ``address`` (just now: another process could
    still take it before the engine binds)."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((address, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((address, port))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError(f"no port free for both UDP and TCP on {address}")


class Endpoint:
    """A running SIPApplication and an account; ``call`` runs a function on the reactor thread."""

    def __init__(self, prefix: str) -> None:
        self.directory = tempfile.TemporaryDirectory(prefix=prefix)
        self.application: Any = None
        self.account: Any = None
        self.trace: SIPTraceWriter | None = None

    def start(
        self,
        recorder: Recorder,
        ip_address: str | None = "127.0.0.1",
        same_port: bool = False,
        trace: Path | None = None,
    ) -> None:
        """``same_port``: UDP and TCP on one port number, so a request that outgrows UDP and moves
        to TCP (RFC 3261 section 18.1.1) reaches the same listener. ``trace``: a file for the SIP
        messages sent and received (:class:`SIPTraceWriter`)."""
        from sipsimple.application import SIPApplication
        from sipsimple.storage import FileStorage

        NotificationCenter().add_observer(recorder)
        if trace is not None:
            self.trace = SIPTraceWriter(trace)
            NotificationCenter().add_observer(self.trace, name="SIPEngineSIPTrace")
        storage = FileStorage(Path(self.directory.name))
        seed_settings(storage, trace_sip=trace is not None)
        self.application = SIPApplication()
        if ip_address is not None:
            self.application.engine_options = {"ip_address": ip_address}
            if same_port:
                port = free_port_pair(ip_address)
                self.application.engine_options.update(udp_port=port, tcp_port=port)
        self.application.start(storage)
        if recorder.wait_for("SIPApplicationDidStart", timeout=15) is None:
            raise RuntimeError("the SIP application did not start within 15 s")

    def call(self, func: Any, *args: Any, timeout: float = 10.0) -> Any:
        from sipsimple.threading import get_twisted_thread

        return get_twisted_thread().call_and_wait(func, *args, timeout=timeout)

    def make_account(self, account_id: str, *, srtp: str | None, codecs: list[str] | None, **sip: Any) -> Any:
        """An enabled account (created on the reactor thread) that does not register unless told."""

        def create() -> Any:
            from sipsimple.account import Account

            account: Any = Account(account_id)
            account.enabled = True
            account.sip.register = sip.get("register", False)
            if sip.get("password"):
                account.auth.password = sip["password"]
            if sip.get("proxy"):
                account.sip.outbound_proxy = sip["proxy"]
            account.rtp.encryption.enabled = srtp is not None
            if srtp is not None:
                account.rtp.encryption.key_negotiation = srtp
            if codecs:
                account.rtp.audio_codec_list = codecs
            account.save()
            return account

        self.account = self.call(create)
        return self.account

    @property
    def ports(self) -> tuple[int, int]:
        engine = self.application.engine
        return engine.local_udp_port, engine.local_tcp_port

    def stop(self, recorder: Recorder, timeout: float = 15.0) -> bool:
        """Stops the application and the threads; true when it ended within ``timeout``."""
        from sipsimple.threading import ThreadManager, get_twisted_thread

        ended = True
        if self.application is not None and self.application.running:
            self.application.stop()
            ended = recorder.wait_for("SIPApplicationDidEnd", timeout=timeout) is not None
        thread = get_twisted_thread().thread
        if thread is not None:
            thread.join(timeout)
        ThreadManager().stop(timeout=timeout)
        NotificationCenter().discard_observer(recorder)
        if self.trace is not None:
            NotificationCenter().discard_observer(self.trace, name="SIPEngineSIPTrace")
        self.directory.cleanup()
        return ended
