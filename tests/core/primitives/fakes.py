"""A fake engine for timing tests: the real transaction layer (SIPStack) on a ``Clock``, over a
transport that records what is sent and lets the test answer it."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.task import Clock

from sipsimple.core.sip._scanner import scan
from sipsimple.core.sip.message import SIPRequest, make_response, parse_message
from sipsimple.core.sip.stack import SIPStack
from sipsimple.core.sip.transport import ConnectionFailed, TransportAddress
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.util import ISOTimestamp

LISTENERS = (
    TransportAddress("udp", "127.0.0.1", 5060),
    TransportAddress("tcp", "127.0.0.1", 5060),
    TransportAddress("udp", "::1", 5060),
)


class FakeTransport:
    """Records sends; destinations in ``failing`` fail at once with ConnectionFailed."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, TransportAddress, str | None]] = []
        self.listeners = LISTENERS
        self.failing: set[TransportAddress] = set()

    def transport_for(self, destination, size, *, is_request=False):
        return destination

    def send(self, data, destination, *, tls_name=None, is_request=False, new_connection=True):
        self.sent.append((data, destination, tls_name))
        if destination in self.failing:
            return defer.fail(ConnectionFailed(f"connection refused by {destination}"))
        return defer.succeed(destination)


class FakeEngine:
    """Enough of SIPEngine for the primitives (see ``_client.EngineAPI``), on a Clock."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.transport = FakeTransport()
        self.stack = SIPStack(self.clock, self.transport, on_request=lambda transaction: None)
        self.is_running = True
        self._answered: set[str] = set()

    @property
    def reactor(self) -> Clock:
        return self.clock

    def post(self, name: str, sender: object = None, **attributes: Any) -> None:
        data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
        NotificationCenter().post_notification(name, sender=sender, data=data)

    def send_request(self, request, destination, listener, *, tls_name=None):
        return self.stack.send_request(request, destination, listener, tls_name=tls_name)

    def local_address(self, transport: str, ipv6: bool = False):
        return self.stack.local_address(transport, "::" if ipv6 else "0.0.0.0")

    # -- for the tests ------------------------------------------------------------------------

    def requests(self) -> list[tuple[SIPRequest, TransportAddress]]:
        """Every request sent, retransmissions left out (one per Via branch), in order."""
        seen: set[str] = set()
        result = []
        for data, destination, _ in self.transport.sent:
            message = parse_message(data)
            branch = message.get("Via").branch
            if isinstance(message, SIPRequest) and branch not in seen:
                seen.add(branch)
                result.append((message, destination))
        return result

    def methods(self) -> list[str]:
        return [request.method for request, _ in self.requests()]

    def last(self) -> SIPRequest:
        return self.requests()[-1][0]

    def unanswered(self) -> SIPRequest:
        """The newest request not answered yet (fails if there is none)."""
        pending = [r for r, _ in self.requests() if r.get("Via").branch not in self._answered]
        assert pending, "every request sent has been answered"
        return pending[-1]

    def answer(
        self, request: SIPRequest, code: int, headers=(), body: bytes = b"", reason: str | None = None
    ) -> None:
        """Deliver a response to ``request`` as if its destination had sent it."""
        self._answered.add(request.get("Via").branch)
        response = make_response(request, code, reason, to_tag="srv", headers=headers, body=body)
        destination = next(d for r, d in self.requests() if r.get("Via").branch == request.get("Via").branch)
        self.stack.receive(scan(response.to_bytes()), destination, LISTENERS[0])

    def reply(self, code: int, headers=(), body: bytes = b"", reason: str | None = None) -> SIPRequest:
        """Answer the newest unanswered request; returns it."""
        request = self.unanswered()
        self.answer(request, code, headers, body, reason)
        return request
