"""A fake engine for the dialog usages (subscriptions, referrals): ``FakeEngine`` plus the Engine's
request routing (dialog handlers, method handlers, 481/405) and helpers to play the peer: deliver
a request as if the peer sent it and read our response, build the peer's NOTIFY or SUBSCRIBE."""

from __future__ import annotations

import itertools
from typing import Any

from sipsimple.core.engine import DEFAULT_EVENTS
from sipsimple.core.sip._scanner import scan
from sipsimple.core.sip.headers import (
    CallIDHeader,
    ContactHeader,
    CSeqHeader,
    EventHeader,
    FromHeader,
    SubscriptionStateHeader,
    ToHeader,
    ViaHeader,
)
from sipsimple.core.sip.message import SIPRequest, SIPResponse, make_response, parse_message
from sipsimple.core.sip.stack import ServerTransaction, SIPStack
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI

from .fakes import LISTENERS, FakeEngine

#: Where the fake peer sends from.
PEER = TransportAddress("udp", "127.0.0.2", 5060)
PEER_CONTACT = ContactHeader(SIPURI("127.0.0.2", user="peer", port=5060))


class DialogFakeEngine(FakeEngine):
    """``FakeEngine`` that also routes received requests like ``SIPEngine`` does."""

    def __init__(self, incoming_events: tuple[str, ...] = ("presence",)) -> None:
        super().__init__()
        self.stack = SIPStack(self.clock, self.transport, on_request=self._on_request)
        self.events = dict(DEFAULT_EVENTS)
        self.incoming_events = set(incoming_events)
        self.dialog_handlers: dict[tuple[str, str, str | None], Any] = {}
        self.method_handlers: dict[str, Any] = {}
        self._branches = itertools.count(1)

    # -- the Engine's routing -----------------------------------------------------------------

    def register_dialog(self, call_id, local_tag, remote_tag, handler) -> None:
        self.dialog_handlers[(call_id, local_tag, remote_tag)] = handler

    def unregister_dialog(self, call_id, local_tag, remote_tag) -> None:
        self.dialog_handlers.pop((call_id, local_tag, remote_tag), None)

    def register_method_handler(self, method, handler) -> None:
        if handler is None:
            self.method_handlers.pop(method, None)
        else:
            self.method_handlers[method] = handler

    def _on_request(self, transaction) -> None:
        request = transaction.request
        to_tag = request.to_header.tag
        if to_tag:
            key = (request.call_id, to_tag, request.from_header.tag)
            handler = self.dialog_handlers.get(key) or self.dialog_handlers.get(
                (request.call_id, to_tag, None)
            )
            if handler is not None:
                handler(transaction)
            elif isinstance(transaction, ServerTransaction):
                transaction.send_response(make_response(request, 481))
            return
        handler = self.method_handlers.get(request.method)
        if handler is not None:
            handler(transaction)
        else:
            transaction.send_response(make_response(request, 405, to_tag="x"))

    # -- playing the peer ---------------------------------------------------------------------

    def deliver(self, request: SIPRequest, source: TransportAddress = PEER) -> SIPResponse | None:
        """Hand ``request`` to the stack as if ``source`` sent it; our newest response to it."""
        if "Via" not in request:
            via = ViaHeader("UDP", source.host, source.port, {"branch": f"z9hG4bKpeer{next(self._branches)}"})
            request.add("Via", [via], first=True)
        self.stack.receive(scan(request.to_bytes()), source, LISTENERS[0])
        return self.response_to(request)

    def responses(self) -> list[SIPResponse]:
        parsed = [parse_message(data) for data, _, _ in self.transport.sent]
        return [message for message in parsed if isinstance(message, SIPResponse)]

    def response_to(self, request: SIPRequest) -> SIPResponse | None:
        branch = request.get("Via").branch
        mine = [r for r in self.responses() if r.get("Via").branch == branch]
        return mine[-1] if mine else None

    def sent(self, method: str) -> list[SIPRequest]:
        return [request for request, _ in self.requests() if request.method == method]

    def destination_of(self, request: SIPRequest) -> TransportAddress:
        branch = request.get("Via").branch
        return next(d for r, d in self.requests() if r.get("Via").branch == branch)


def notify_for(
    subscribe: SIPRequest,
    state: str,
    cseq: int,
    *,
    body: bytes = b"",
    content_type: str | None = None,
    remote_tag: str = "srv",
    event: Any = None,
    contact: ContactHeader = PEER_CONTACT,
    with_state: bool = True,
) -> SIPRequest:
    """The notifier's NOTIFY in the dialog of ``subscribe`` (our SUBSCRIBE or REFER)."""
    ours = subscribe.from_header
    theirs = subscribe.to_header
    request = SIPRequest("NOTIFY", subscribe.get("Contact").uri)
    request.add("Max-Forwards", "70")
    request.add("From", FromHeader(theirs.uri, theirs.display_name, {"tag": remote_tag}))
    request.add("To", ToHeader(ours.uri, ours.display_name, {"tag": ours.tag}))
    request.add("Call-ID", CallIDHeader(subscribe.call_id))
    request.add("CSeq", CSeqHeader(cseq, "NOTIFY"))
    request.add("Contact", [contact])
    if event is None:
        event = subscribe.get("Event") or EventHeader("refer", {"id": str(subscribe.cseq.number)})
    request.add("Event", event)
    if with_state:
        request.add("Subscription-State", SubscriptionStateHeader.parse(state))
    if content_type is not None:
        request.add("Content-Type", content_type)
    request.body = body
    return request


def in_dialog_request(
    method: str, notify: SIPRequest, ours: SIPRequest, cseq: int, headers: tuple[tuple[str, Any], ...] = ()
) -> SIPRequest:
    """The subscriber's request in the dialog the notifier's ``notify`` is in (To/From swapped)."""
    request = SIPRequest(method, notify.get("Contact").uri)
    request.add("Max-Forwards", "70")
    request.add("From", ours.from_header)
    to = notify.from_header
    request.add("To", ToHeader(to.uri, to.display_name, {"tag": to.tag}))
    request.add("Call-ID", CallIDHeader(ours.call_id))
    request.add("CSeq", CSeqHeader(cseq, method))
    request.add("Contact", [PEER_CONTACT])
    for name, value in headers:
        request.add(name, value)
    return request


def subscribe_request(
    event: str = "presence", expires: int | None = 600, cseq: int = 1, call_id: str = "sub-1@peer"
) -> SIPRequest:
    """A peer's out-of-dialog SUBSCRIBE to bob."""
    request = SIPRequest("SUBSCRIBE", "sip:bob@127.0.0.1:5060")
    request.add("Max-Forwards", "70")
    request.add("From", FromHeader(SIPURI("example.test", user="alice"), "Alice", {"tag": "peer-tag"}))
    request.add("To", ToHeader(SIPURI("example.test", user="bob")))
    request.add("Call-ID", CallIDHeader(call_id))
    request.add("CSeq", CSeqHeader(cseq, "SUBSCRIBE"))
    request.add("Contact", [PEER_CONTACT])
    request.add("Event", event)
    if expires is not None:
        request.add("Expires", str(expires))
    return request
