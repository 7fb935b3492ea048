"""The INVITE requests of an Invitation: the initial INVITE, re-INVITEs, and the messages sent
outside any transaction (ACK for a 2xx, CANCEL).

``InviteRequest`` is a ``ClientRequest`` that also reports provisional responses and every 2xx
(RFC 6026: the client transaction passes up retransmissions and the 2xx of other forks while it
is Accepted), and finishes only on a 3xx-6xx or a failure. ``ReinviteRequest`` is a
``DialogRequest`` that remembers whether a provisional arrived (a CANCEL may only follow one,
RFC 3261 §9.1). ``send_outside(engine, resolver, request, uri)`` resolves ``uri`` and sends a
request with a fresh Via outside any transaction (an ACK for a 2xx, §13.2.2.4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sipsimple.core.sip.message import SIPRequest, SIPResponse, make_cancel
from sipsimple.core.sip.transport import TransportAddress

from .._client import ClientRequest, Result, _Attempt
from .._dialog_client import DialogRequest
from ..route import Hop, RouteResolver

__all__ = ["InviteRequest", "ReinviteRequest", "send_cancel", "send_outside"]


class InviteRequest(ClientRequest):
    """The initial INVITE (see the module documentation).

    ``on_provisional(request, response)`` hears each 101-199 (``on_trying()`` the first 100);
    ``on_accept(request, response, hop)`` each 2xx (the first and any later one);
    ``on_too_brief(response)`` a 422 (True: the template now has the larger Min-SE, send it
    again); ``on_done(result)`` the 3xx-6xx or failure that ends it (never called after a 2xx:
    the exchange goes on quietly until the transaction ends).
    """

    def __init__(
        self,
        *args: Any,
        on_provisional: Callable[[SIPRequest, SIPResponse], None],
        on_accept: Callable[[SIPRequest, SIPResponse, Hop], None],
        on_too_brief: Callable[[SIPResponse], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.on_provisional = on_provisional
        self.on_accept = on_accept
        self.on_too_brief = on_too_brief
        self.accepted = False
        self.provisional_seen = False
        #: hears the first 100 Trying (not a state change, but a CANCEL may now be sent, §9.1)
        self.on_trying: Callable[[], None] | None = None

    def _on_response(self, attempt: _Attempt, response: SIPResponse) -> None:
        code = response.code
        if code == 100:
            if not self.provisional_seen:
                self.provisional_seen = True
                if self.on_trying is not None:
                    self.on_trying()
            return
        if code < 200:
            self.provisional_seen = True
            self.on_provisional(attempt.request, response)
        elif code < 300:
            self.accepted = True
            self._cancel_deadline()
            self.on_accept(attempt.request, response, attempt.hop)
        elif (
            code == 422
            and not self.accepted
            and self.on_too_brief is not None
            and self.on_too_brief(response)
        ):
            self._send()  # RFC 4028 §7.1: again with the larger Min-SE (a new CSeq, the same Call-ID)
        elif not self.accepted:
            super()._on_response(attempt, response)

    def current(self) -> tuple[SIPRequest, TransportAddress, str | None] | None:
        """The INVITE in flight (with its Via) and where it went, for a CANCEL."""
        attempt = self._attempt
        if attempt is None or self.done:
            return None
        return attempt.request, attempt.hop.address, attempt.hop.tls_name


class ReinviteRequest(DialogRequest):
    """A re-INVITE in the dialog; ``provisional_seen`` tells whether it may be cancelled.
    ``on_provisional(request)`` hears the first 1xx, ``on_progress(request, response)`` each
    101-199."""

    provisional_seen = False
    on_provisional: Callable[[ReinviteRequest], None] | None = None
    on_progress: Callable[[ReinviteRequest, SIPResponse], None] | None = None

    def _on_response(self, attempt: _Attempt, response: SIPResponse) -> None:
        if 100 <= response.code < 200 and not self.provisional_seen:  # 100 Trying counts (§9.1)
            self.provisional_seen = True
            if self.on_provisional is not None:
                self.on_provisional(self)
        if 100 < response.code < 200 and self.on_progress is not None:
            self.on_progress(self, response)
        super()._on_response(attempt, response)

    def current(self) -> tuple[SIPRequest, TransportAddress, str | None] | None:
        attempt = self._attempt
        if attempt is None or self.done:
            return None
        return attempt.request, attempt.hop.address, attempt.hop.tls_name


class _Ignore:
    """A client-transaction listener that ignores everything (for the CANCEL)."""

    def response_received(self, transaction: Any, response: SIPResponse) -> None:
        pass

    def timed_out(self, transaction: Any) -> None:
        pass

    def transport_failed(self, transaction: Any, error: BaseException | None) -> None:
        pass

    def terminated(self, transaction: Any) -> None:
        pass


def send_cancel(engine: Any, invite: SIPRequest, destination: TransportAddress, tls_name: str | None) -> None:
    """CANCEL ``invite`` (already sent, with its Via) at the same destination (RFC 3261 §9.1)."""
    cancel = make_cancel(invite)
    engine.stack.send_request(cancel, destination, _Ignore(), tls_name=tls_name, stamp_via=False)


def send_outside(
    engine: Any,
    resolver: RouteResolver,
    request: SIPRequest,
    uri: Any,
    on_sent: Callable[[SIPRequest, TransportAddress, str | None], None] | None = None,
) -> None:
    """Resolve ``uri`` and send ``request`` with a fresh Via outside any transaction.

    ``on_sent(request, destination, tls_name)`` lets the caller keep it for retransmissions."""

    def resolved(hops: list[Hop]) -> None:
        if not engine.is_running:
            return
        for hop in hops:
            if engine.local_address(hop.address.transport, ipv6=hop.address.family == 6) is None:
                continue
            try:
                destination = engine.stack.stamp_via(request, hop.address)
            except ValueError:
                continue
            engine.stack.send_stateless(request, destination, tls_name=hop.tls_name).addErrback(
                lambda _: None
            )
            if on_sent is not None:
                on_sent(request, destination, hop.tls_name)
            return

    resolver.resolve(uri).addCallbacks(resolved, lambda _: None)


def resend(engine: Any, request: SIPRequest, destination: TransportAddress, tls_name: str | None) -> None:
    """Send an already stamped request again (an ACK for a retransmitted 2xx)."""
    if engine.is_running:
        engine.stack.send_stateless(request, destination, tls_name=tls_name).addErrback(lambda _: None)


def result_of(result: Result) -> tuple[int, str]:
    return result.code, result.reason
