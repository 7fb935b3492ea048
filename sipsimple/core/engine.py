"""The Engine: starts the SIP transports and the transaction layer, and routes incoming requests.

``Engine()`` is the process-wide singleton the middleware uses; ``SIPEngine`` is the same class
without the singleton, with the reactor and the notification center injectable (tests create one
per test). All methods run on the reactor thread.

Notifications (sender: the engine; every data has ``timestamp``):

* ``SIPEngineWillStart``, ``SIPEngineDidStart``, ``SIPEngineDidFail`` (``error``),
  ``SIPEngineWillEnd``, ``SIPEngineDidEnd``;
* ``SIPEngineSIPTrace`` when ``trace_sip`` is on: ``received`` (bool), ``source_ip``,
  ``source_port``, ``destination_ip``, ``destination_port``, ``transport``, ``data`` (bytes);
* ``SIPEngineGotMessage`` for an out-of-dialog MESSAGE (answered 200): ``request_uri``,
  ``from_header``, ``to_header``, ``content_type``, ``content_type_parameters``, ``body``, ``headers``;
* ``SIPEngineGotException`` when a request handler raised: ``type``, ``value``, ``traceback``;
* ``SIPEngineTransportDidConnect`` / ``SIPEngineTransportDidDisconnect``: ``transport``,
  ``local_address``, ``remote_address`` (``host:port`` strings), and ``reason`` for disconnects;
* ``SIPEngineTransportDidChange`` when a listener moved at run time: ``transport``,
  ``old_local_address`` and ``new_local_address`` (``host:port``, None when it was or is off).

Run-time transport changes (``set_udp_port``, ``set_tcp_port``, ``set_tls_options``,
``set_ip_address``) bind the new socket before the old one closes, so a failure raises EngineError
and leaves the old listener working; connections the old TCP/TLS listener accepted are served until
they end, and ``local_address`` reports the new listener at once.

``incoming_requests``, when given, is the set of out-of-dialog methods the application serves; any
other method but OPTIONS is answered 405 before any handler sees it.

Incoming requests: in-dialog ones (with a To tag) go to the handler registered for their dialog
(``register_dialog``), or get 481. Out-of-dialog ones go to the handler registered for their method
(``register_method_handler``); without one, OPTIONS is answered 200 with Allow/Accept/Supported,
MESSAGE 200 plus ``SIPEngineGotMessage``, other SIP methods 405 with Allow and unknown methods 501.
A request the scanner cannot frame is answered 400 with the reason when a Via can be found in it.

Media (``MediaEngineMixin``, sipsimple/core/_media_engine.py): ``available_codecs``, ``codecs``,
``input_devices``/``output_devices``, ``default_input_device``/``default_output_device``,
``refresh_sound_devices()`` (``AudioDevicesDidChange``, ``DefaultAudioDeviceDidChange``) and
``media_event_queue``, whose reader runs on the reactor from ``start`` to ``stop``.
"""

from __future__ import annotations

import logging
import socket
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from sipsimple.core._media_engine import MediaEngineMixin
from sipsimple.core.sip.headers import Header
from sipsimple.core.sip.ids import new_tag
from sipsimple.core.sip.message import SIPRequest, SIPResponse, make_response
from sipsimple.core.sip.stack import (
    ClientListener,
    ClientTransaction,
    ServerTransaction,
    SIPStack,
    StatelessRequest,
)
from sipsimple.core.sip.transaction import TimerConfig
from sipsimple.core.sip.transport import ICMPReport, TransportAddress, TransportManager
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.util import ISOTimestamp, Singleton
from sipsimple.util._network import default_ip_address

__all__ = ["Engine", "EngineError", "SIPEngine"]

log = logging.getLogger(__name__)

KNOWN_METHODS = frozenset(
    {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE",
     "REFER", "INFO", "UPDATE", "PRACK"}
)  # fmt: skip

DEFAULT_EVENTS: dict[str, list[str]] = {
    "presence": ["application/pidf+xml", "multipart/related", "application/rlmi+xml"],
    "presence.winfo": ["application/watcherinfo+xml"],
    "dialog": ["application/dialog-info+xml"],
    "message-summary": ["application/simple-message-summary"],
    "refer": ["message/sipfrag"],
    "conference": ["application/conference-info+xml"],
    "xcap-diff": ["application/xcap-diff+xml"],
}

RequestHandler = Callable[[ServerTransaction], None]


class EngineError(Exception):
    """The engine cannot do what was asked (not running, bad option, no transport...)."""


def default_host_address(family: int = socket.AF_INET) -> str:
    """The address this host uses to reach other hosts (a routing lookup: no packet is sent), or the
    loopback address when there is no route."""
    address = default_ip_address(family)
    if address is None:
        return "127.0.0.1" if family == socket.AF_INET else "::1"
    return address


class SIPEngine(MediaEngineMixin):
    """The engine, without the singleton (see the module documentation)."""

    def __init__(self, reactor: Any = None, notification_center: NotificationCenter | None = None) -> None:
        self._reactor = reactor
        self._center = notification_center
        self._running = False
        self._transports: TransportManager | None = None
        self._stack: SIPStack | None = None
        self._options: dict[str, Any] = {}
        self._method_handlers: dict[str, RequestHandler] = {}
        self._dialog_handlers: dict[tuple[str, str, str | None], RequestHandler] = {}
        self._cancel_handlers: dict[int, Callable[[ServerTransaction], None]] = {}
        self._stray_handlers: dict[tuple[str, str], Callable[[SIPResponse], None]] = {}
        self._allow_text: str | None = None

    # collaborators ------------------------------------------------------------------------------

    @property
    def reactor(self) -> Any:
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        return self._reactor

    @property
    def notification_center(self) -> NotificationCenter:
        if self._center is None:
            self._center = NotificationCenter()
        return self._center

    def post(self, name: str, sender: object = None, **attributes: Any) -> None:
        data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
        self.notification_center.post_notification(name, sender=self if sender is None else sender, data=data)

    # life cycle ---------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def stack(self) -> SIPStack:
        if self._stack is None:
            raise EngineError("the engine is not running")
        return self._stack

    @property
    def transports(self) -> TransportManager:
        if self._transports is None:
            raise EngineError("the engine is not running")
        return self._transports

    def start(
        self,
        *,
        ip_address: str | None = None,
        udp_port: int | None = 0,
        tcp_port: int | None = 0,
        tls_port: int | None = None,
        tls_verify_server: bool = True,
        tls_ca_file: str | None = None,
        tls_cert_file: str | None = None,
        tls_privkey_file: str | None = None,
        tls_timeout: int = 3000,
        user_agent: str = "sipsimple",
        trace_sip: bool = False,
        events: dict[str, list[str]] | None = None,
        incoming_events: Iterable[str] = (),
        incoming_requests: Iterable[str] | None = None,
        t1: float = 0.5,
        t2: float = 4.0,
        t4: float = 5.0,
        max_message_size: int = 65535,
        keepalive_interval: float | None = 90.0,
    ) -> None:
        """Open the transports (port 0: any free port, None: transport off) and start the stack."""
        if self._running:
            raise EngineError("the engine is already running")
        self._allow_text = None
        self.post("SIPEngineWillStart")
        try:
            host = ip_address or default_host_address()
            self._options = {
                "ip_address": host,
                "user_agent": user_agent,
                "trace_sip": trace_sip,
                "events": dict(DEFAULT_EVENTS if events is None else events),
                "incoming_events": set(incoming_events),
                "incoming_requests": None if incoming_requests is None else set(incoming_requests),
                "tls_verify_server": tls_verify_server,
                "ports": {"udp": udp_port, "tcp": tcp_port, "tls": tls_port},
            }
            self._transports = TransportManager(
                self.reactor,
                on_message=self._on_message,
                on_bad_message=self._on_bad_message,
                on_trace=self._on_trace,
                on_connection_event=self._on_connection_event,
                on_unreachable=self._on_unreachable,
                max_message_size=max_message_size,
                keepalive_interval=keepalive_interval,
                tls_verify_server=tls_verify_server,
                tls_ca_list=tls_ca_file,
                tls_certificate=tls_cert_file,
                tls_private_key=tls_privkey_file,
                tls_timeout=tls_timeout / 1000.0,
            )
            self._stack = SIPStack(
                self.reactor,
                self._transports,
                on_request=self._on_request,
                on_cancel=self._on_cancel,
                on_stray_response=self._on_stray_response,
                timers=TimerConfig(t1=t1, t2=t2, t4=t4),
            )
            if udp_port is not None:
                self._transports.listen_udp(host, udp_port)
            if tcp_port is not None:
                self._transports.listen_tcp(host, tcp_port)
            if tls_port is not None:
                self._transports.listen_tls(host, tls_port)
        except Exception as e:
            self._abort_start()
            self.post("SIPEngineDidFail", error=e)
            raise EngineError(f"the engine could not start: {e}") from e
        self._running = True
        self._start_media()
        self.post("SIPEngineDidStart")

    def _abort_start(self) -> None:
        if self._transports is not None:
            self._transports.stop()
        self._transports = None
        self._stack = None

    def stop(self) -> Any:
        """Close every transport; returns a Deferred that fires after SIPEngineDidEnd."""
        from twisted.internet.defer import succeed

        if not self._running:
            return succeed(None)
        self._running = False
        self.post("SIPEngineWillEnd")
        self._stop_media()
        assert self._transports is not None
        stopping = self._transports.stop()
        self._transports = None
        self._stack = None
        self._method_handlers.clear()
        self._allow_text = None
        self._dialog_handlers.clear()
        self._stray_handlers.clear()

        def ended(result: Any) -> None:
            self.post("SIPEngineDidEnd")

        return stopping.addBoth(ended)

    # options ------------------------------------------------------------------------------------

    @property
    def user_agent(self) -> str:
        return str(self._options.get("user_agent", "sipsimple"))

    @property
    def ip_address(self) -> str | None:
        return self._options.get("ip_address")

    @property
    def events(self) -> dict[str, list[str]]:
        return dict(self._options.get("events", {}))

    @property
    def incoming_events(self) -> set[str]:
        return set(self._options.get("incoming_events", set()))

    @property
    def trace_sip(self) -> bool:
        return bool(self._options.get("trace_sip"))

    @trace_sip.setter
    def trace_sip(self, value: bool) -> None:
        self._options["trace_sip"] = bool(value)

    def local_address(self, transport: str, ipv6: bool = False) -> TransportAddress | None:
        """Our listening address for ``transport`` ('udp', 'tcp', 'tls')."""
        return self.stack.local_address(transport, "::" if ipv6 else "0.0.0.0")

    @property
    def local_udp_port(self) -> int | None:
        address = self.local_address("udp") if self._running else None
        return None if address is None else address.port

    @property
    def local_tcp_port(self) -> int | None:
        address = self.local_address("tcp") if self._running else None
        return None if address is None else address.port

    @property
    def local_tls_port(self) -> int | None:
        address = self.local_address("tls") if self._running else None
        return None if address is None else address.port

    # run-time transport changes ------------------------------------------------------------------

    def set_udp_port(self, port: int | None) -> None:
        """Listen for UDP on ``port`` from now on (0: any free port, None: no UDP); see `_replace`."""
        self._replace("udp", port)

    def set_tcp_port(self, port: int | None) -> None:
        """Accept TCP on ``port`` from now on (0: any free port, None: no TCP); see `_replace`."""
        self._replace("tcp", port)

    def set_tls_options(
        self,
        port: int | None = None,
        verify_server: bool = True,
        ca_file: str | None = None,
        cert_file: str | None = None,
        privkey_file: str | None = None,
        timeout: int = 3000,
    ) -> None:
        """New TLS settings: ``port`` as for `set_tcp_port`, the rest as for `start` (``timeout`` in
        milliseconds). The CA list, verification and certificate apply to connections set up from now
        on. With the port unchanged the listening socket stays and only its certificate changes. A
        certificate that cannot be loaded, or a port that cannot be bound, raises EngineError and
        changes nothing."""
        transports = self.transports
        previous, previous_timeout = transports.tls_configuration, transports.table.timeouts.tls_timeout
        if port is None:
            self._replace("tls", None)  # first, so that no certificate is loaded for it
        try:
            transports.configure_tls(
                verify_server=verify_server,
                ca_list=ca_file,
                certificate=cert_file,
                private_key=privkey_file,
                timeout=timeout / 1000.0,
            )
        except Exception as error:
            raise EngineError(f"the TLS settings cannot be used: {error}") from error
        self._options["tls_verify_server"] = verify_server
        try:
            self._replace("tls", port)
        except EngineError:
            transports.configure_tls(
                verify_server=previous.verify_server,
                ca_list=previous.ca_list,
                certificate=previous.certificate,
                private_key=previous.private_key,
                timeout=previous_timeout,
            )
            raise

    def set_ip_address(self, ip_address: str) -> None:
        """Move every listener to ``ip_address`` (ports as configured: 0 picks a new free one). All new
        sockets are bound before any old one closes, so a failure raises EngineError and changes
        nothing. Posts ``SIPEngineTransportDidChange`` for each transport."""
        if ip_address == self.ip_address:
            return
        transports = self.transports
        moves: list[tuple[TransportAddress, TransportAddress]] = []
        try:
            for old in transports.listeners:
                port = self._options["ports"].get(old.transport) or 0
                moves.append((old, self._listen(old.transport, ip_address, port)))
        except EngineError:
            for _, new in moves:
                transports.stop_listening(new).addErrback(self._listener_close_failed)
            raise
        self._options["ip_address"] = ip_address
        for old, new in moves:
            transports.stop_listening(old).addErrback(self._listener_close_failed)
            self._post_transport_change(old.transport, old, new)

    def _listener(self, transport: str) -> TransportAddress | None:
        return next((a for a in self.transports.listeners if a.transport == transport), None)

    def _replace(self, transport: str, port: int | None) -> None:
        """Listen for ``transport`` on ``port`` instead (None: not at all). Nothing happens when it is
        off and stays off, or already listens on that port (0 always means a new free port). The new
        socket is bound first: a failure raises EngineError and the old one keeps working. Then the old
        socket closes; connections it accepted stay open until they end by themselves. Posts
        ``SIPEngineTransportDidChange``."""
        old = self._listener(transport)
        unchanged = port is None if old is None else port is not None and port != 0 and port == old.port
        if not unchanged:
            new = None if port is None else self._listen(transport, self.ip_address or "0.0.0.0", port)
            if old is not None:
                self.transports.stop_listening(old).addErrback(self._listener_close_failed)
            self._post_transport_change(transport, old, new)
        self._options["ports"][transport] = port

    def _listen(self, transport: str, host: str, port: int) -> TransportAddress:
        listen = {
            "udp": self.transports.listen_udp,
            "tcp": self.transports.listen_tcp,
            "tls": self.transports.listen_tls,
        }[transport]
        try:
            return listen(host, port)
        except Exception as error:
            raise EngineError(f"cannot listen for {transport} on {host} port {port}: {error}") from error

    def _post_transport_change(
        self, transport: str, old: TransportAddress | None, new: TransportAddress | None
    ) -> None:
        self.post(
            "SIPEngineTransportDidChange",
            transport=transport,
            old_local_address=None if old is None else f"{old.host}:{old.port}",
            new_local_address=None if new is None else f"{new.host}:{new.port}",
        )

    @staticmethod
    def _listener_close_failed(failure: Any) -> None:
        log.warning("closing a listening socket failed: %s", failure.getErrorMessage())

    # used by the request objects ----------------------------------------------------------------

    def send_request(
        self,
        request: SIPRequest,
        destination: TransportAddress,
        listener: ClientListener,
        *,
        tls_name: str | None = None,
    ) -> ClientTransaction:
        if "User-Agent" not in request:
            request.add("User-Agent", Header("User-Agent", self.user_agent))
        return self.stack.send_request(request, destination, listener, tls_name=tls_name)

    def register_method_handler(self, method: str, handler: RequestHandler | None) -> None:
        """Out-of-dialog requests of ``method`` go to ``handler`` (None: the default handling)."""
        if handler is None:
            self._method_handlers.pop(method, None)
        else:
            self._method_handlers[method] = handler
        self._allow_text = None

    def register_dialog(
        self, call_id: str, local_tag: str, remote_tag: str | None, handler: RequestHandler
    ) -> None:
        """In-dialog requests for (Call-ID, local tag, remote tag) go to ``handler``; a remote tag of None
        matches any (a subscription whose first NOTIFY has not arrived yet)."""
        self._dialog_handlers[(call_id, local_tag, remote_tag)] = handler

    def unregister_dialog(self, call_id: str, local_tag: str, remote_tag: str | None) -> None:
        self._dialog_handlers.pop((call_id, local_tag, remote_tag), None)

    def on_cancel(self, transaction: ServerTransaction, handler: Callable[[ServerTransaction], None]) -> None:
        """A CANCEL matching the INVITE ``transaction`` goes to ``handler`` until the transaction
        sent its final response: a CANCEL after that changes nothing (RFC 3261 §9.2; the stack
        answers it 200, or 481 once the transaction ended) and the handler, often a bound method of
        the Invitation, must not keep that alive for Timer L (32 s): under load that is thousands
        of ended calls' objects the garbage collector scans again and again."""
        self._cancel_handlers[id(transaction)] = handler
        transaction.on_answered = self._forget_cancel
        transaction.on_terminated = self._forget_cancel

    def _forget_cancel(self, transaction: ServerTransaction) -> None:
        self._cancel_handlers.pop(id(transaction), None)

    def register_stray_handler(
        self, call_id: str, local_tag: str, handler: Callable[[SIPResponse], None] | None
    ) -> None:
        """Responses that match no client transaction (a 2xx of another fork or a 2xx retransmitted
        after the INVITE transaction ended) whose Call-ID and From tag are ours go to ``handler``
        (None: forget it)."""
        if handler is None:
            self._stray_handlers.pop((call_id, local_tag), None)
        else:
            self._stray_handlers[(call_id, local_tag)] = handler

    def _on_stray_response(self, response: SIPResponse) -> None:
        try:
            key = (response.call_id or "", response.from_header.tag or "")
        except Exception:
            return
        handler = self._stray_handlers.get(key)
        if handler is None:
            return
        try:
            handler(response)
        except Exception:
            self._report_exception()

    # incoming -----------------------------------------------------------------------------------

    def _on_message(self, scanned: Any, source: TransportAddress, local: TransportAddress) -> None:
        if self._stack is not None:
            self._stack.receive(scanned, source, local)

    def _on_request(self, transaction: ServerTransaction | StatelessRequest) -> None:
        request = transaction.request
        assert request is not None  # a new transaction has not answered yet
        try:
            to_tag = request.to_header.tag
            if to_tag is not None:
                self._dispatch_in_dialog(transaction, request, to_tag)
            elif isinstance(transaction, ServerTransaction):
                self._dispatch_out_of_dialog(transaction, request)
        except Exception:
            self._report_exception()
            if isinstance(transaction, ServerTransaction) and not transaction.answered:
                transaction.send_response(make_response(request, 500, to_tag=new_tag()))

    def _dispatch_in_dialog(
        self, transaction: ServerTransaction | StatelessRequest, request: SIPRequest, to_tag: str
    ) -> None:
        from_tag = request.from_header.tag
        call_id = request.call_id or ""
        handler = self._dialog_handlers.get((call_id, to_tag, from_tag)) or self._dialog_handlers.get(
            (call_id, to_tag, None)
        )
        if isinstance(transaction, StatelessRequest):
            if handler is not None:
                handler(transaction)  # type: ignore[arg-type]
            return
        if handler is None:
            transaction.send_response(make_response(request, 481, to_tag=new_tag()))
        else:
            handler(transaction)

    def _dispatch_out_of_dialog(self, transaction: ServerTransaction, request: SIPRequest) -> None:
        wanted = self._options.get("incoming_requests")
        if (
            wanted is not None
            and request.method not in wanted
            and request.method not in ("OPTIONS", "CANCEL")
        ):
            transaction.send_response(
                make_response(request, 405, to_tag=new_tag(), headers=[("Allow", self._allow())])
            )
            return
        handler = self._method_handlers.get(request.method)
        if handler is not None:
            handler(transaction)
        elif request.method == "OPTIONS":
            transaction.send_response(self._options_response(request))
        elif request.method == "MESSAGE":
            self._receive_message(transaction, request)
        elif request.method in KNOWN_METHODS:
            transaction.send_response(
                make_response(request, 405, to_tag=new_tag(), headers=[("Allow", self._allow())])
            )
        else:
            transaction.send_response(make_response(request, 501, to_tag=new_tag()))

    def _allow(self) -> str:
        if self._allow_text is None:
            methods = {"OPTIONS", "MESSAGE", "ACK", "CANCEL", "BYE", "NOTIFY", *self._method_handlers}
            wanted = self._options.get("incoming_requests")
            if wanted is not None:
                methods = {
                    m for m in methods if m in wanted or m in ("OPTIONS", "ACK", "CANCEL", "BYE", "NOTIFY")
                }
            self._allow_text = ", ".join(sorted(methods))
        return self._allow_text

    def _options_response(self, request: SIPRequest) -> SIPResponse:
        return make_response(
            request,
            200,
            to_tag=new_tag(),
            headers=[
                ("Allow", self._allow()),
                ("Accept", "application/sdp, message/cpim, text/plain, message/sipfrag"),
                ("Supported", "path, gruu, outbound"),
                ("User-Agent", self.user_agent),
            ],
        )

    def _receive_message(self, transaction: ServerTransaction, request: SIPRequest) -> None:
        transaction.send_response(make_response(request, 200, to_tag=new_tag()))
        content_type = request.content_type
        headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            headers.setdefault(name, []).append(value)
        self.post(
            "SIPEngineGotMessage",
            request_uri=request.uri,
            from_header=request.from_header,
            to_header=request.to_header,
            content_type=None if content_type is None else content_type.content_type,
            content_type_parameters={} if content_type is None else dict(content_type.parameters),
            body=request.body,
            headers=headers,
        )

    def _on_cancel(self, invite: ServerTransaction, cancel: ServerTransaction) -> None:
        handler = self._cancel_handlers.pop(id(invite), None)
        if handler is not None:
            handler(invite)
        elif not invite.answered and invite.request is not None:
            invite.send_response(make_response(invite.request, 487, to_tag=new_tag()))

    def _on_bad_message(
        self, data: bytes, source: TransportAddress, local: TransportAddress, error: Exception
    ) -> None:
        """Answer a request the scanner rejected with 400 and the reason, when it has a usable Via."""
        if source.transport != "udp" or self._transports is None:
            return  # stream transports close the connection on framing errors
        response = _salvage_400(data, str(error))
        if response is not None:
            destination = TransportAddress("udp", source.host, source.port)
            self._transports.send(response, destination).addErrback(lambda _: None)

    def _on_trace(
        self, direction: str, local: TransportAddress, remote: TransportAddress, data: bytes
    ) -> None:
        if not self.trace_sip:
            return
        source, destination = (remote, local) if direction == "in" else (local, remote)
        self.post(
            "SIPEngineSIPTrace",
            received=direction == "in",
            source_ip=source.host,
            source_port=source.port,
            destination_ip=destination.host,
            destination_port=destination.port,
            transport=local.transport,
            data=data,
        )

    def _on_connection_event(
        self, kind: str, local: TransportAddress, remote: TransportAddress, reason: str | None
    ) -> None:
        name = "SIPEngineTransportDidConnect" if kind == "connected" else "SIPEngineTransportDidDisconnect"
        attributes: dict[str, Any] = {
            "transport": remote.transport,
            "local_address": f"{local.host}:{local.port}",
            "remote_address": f"{remote.host}:{remote.port}",
        }
        if kind != "connected":
            attributes["reason"] = reason
        self.post(name, **attributes)

    def _on_unreachable(self, report: ICMPReport) -> None:
        """An ICMP error about a UDP datagram: the stack fails the requests waiting on its destination."""
        if self._stack is not None:
            self._stack.destination_unreachable(report)

    def _report_exception(self) -> None:
        kind, value, trace = sys.exc_info()
        self.post(
            "SIPEngineGotException",
            type=kind,
            value=value,
            traceback="".join(traceback.format_exception(kind, value, trace)),
        )


def _salvage_400(data: bytes, reason: str) -> bytes | None:
    """A 400 response built from the raw lines of an unparsable request, or None if it has no Via."""
    text = data.decode("utf-8", "replace")
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].startswith("SIP/"):
        return None  # a response: never answered
    wanted = {"via": "Via", "v": "Via", "from": "From", "f": "From", "to": "To", "t": "To",
              "call-id": "Call-ID", "i": "Call-ID", "cseq": "CSeq"}  # fmt: skip
    copied: list[str] = []
    for line in lines[1:]:
        if not line:
            break
        name, colon, value = line.partition(":")
        canonical = wanted.get(name.strip().lower())
        if colon and canonical and "\r" not in value:
            copied.append(f"{canonical}: {value.strip()}")
    if not any(line.startswith("Via:") for line in copied):
        return None
    detail = "".join(ch if ch.isprintable() else " " for ch in reason)[:100]
    status = "505 Version Not Supported" if "SIP-Version" in reason else "400 Bad Request"
    head = "\r\n".join([f"SIP/2.0 {status} - {detail}", *copied, "Content-Length: 0"])
    return (head + "\r\n\r\n").encode("utf-8", "replace")


class Engine(SIPEngine, metaclass=Singleton):
    """The process-wide engine."""
