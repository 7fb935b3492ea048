"""What the dialog usages share: one request inside a dialog, from its next hop to one final answer.

``DialogRequest`` is the in-dialog sibling of ``_client.ClientRequest``. The subscriptions and
referrals (and later the INVITE sessions) use it for every request they send in a dialog:

1. Each transmission is built by ``dialog.create_request(method, ...)``: the dialog's Request-URI
   and Route set, From/To with both tags, the Call-ID and the next local CSeq. An authentication
   re-send or a failover is therefore a new request with CSeq+1 in the same dialog.
2. The next hop the dialog routes to (its first loose route, or the remote target, RFC 3261
   §12.2.1.1) is resolved once with the primitive's resolver (``route.py``) into ``Hop``
   candidates; candidates the engine has no listener for are skipped.
3. A 401/407 is answered through the primitive's ``Authenticator``, under the same
   ``RetryPolicy`` rules as out of dialog (a wrong password costs one extra request, no more).
4. A 503, a transport failure or a transaction timeout moves on to the next candidate. With none
   left, a timeout is 408 and a transport failure 503 (RFC 3261 §8.1.3.1).
5. The final response goes through ``dialog.receive_response`` (a 2xx to a target-refresh request
   moves the remote target; 481 and 408 end the dialog, §12.2.1.2), a transaction timeout through
   ``dialog.timed_out``. ``DialogResult.dialog_gone`` says whether the dialog is over afterwards.
6. ``timeout`` bounds the whole logical request: when it passes the result is 408 and whatever is
   still in flight is ignored (the dialog is left as it is).

Everything runs on the reactor thread; timers are ``engine.reactor.callLater`` calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.python.failure import Failure

from sipsimple.core.engine import EngineError
from sipsimple.core.sip.auth import AuthError, RetryPolicy
from sipsimple.core.sip.dialog import Dialog, ProtocolError, request_target
from sipsimple.core.sip.headers import BaseHeader
from sipsimple.core.sip.message import SIPRequest, SIPResponse
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI

from ._client import Authenticator, EngineAPI, Result
from .route import Hop, RouteResolver

__all__ = [
    "DialogEngineAPI",
    "DialogRequest",
    "DialogResult",
    "Timers",
    "local_contact_for",
    "timer_t1",
]

#: Extra header fields for ``Dialog.create_request``: (name, value) pairs or header objects.
Headers = Iterable[tuple[str, Any] | BaseHeader]


class DialogEngineAPI(EngineAPI, Protocol):
    """What the dialog usages need of the engine besides ``EngineAPI``: the dialog routing table
    and the event packages (``SIPEngine`` has it all; tests give a fake)."""

    @property
    def events(self) -> dict[str, list[str]]: ...

    @property
    def incoming_events(self) -> set[str]: ...

    def register_dialog(
        self, call_id: str, local_tag: str, remote_tag: str | None, handler: Callable[[Any], None]
    ) -> None: ...

    def unregister_dialog(self, call_id: str, local_tag: str, remote_tag: str | None) -> None: ...

    def register_method_handler(self, method: str, handler: Callable[[Any], None] | None) -> None: ...


def timer_t1(engine: Any) -> float:
    """The engine's T1 (RFC 3261 Table 4), for the timers derived from it (Timer N = 64*T1)."""
    try:
        return float(engine.stack.timers.t1)
    except (AttributeError, EngineError):
        return 0.5


def local_contact_for(local: TransportAddress, user: str | None = None, *, secure: bool = False) -> SIPURI:
    """Our Contact URI for a request that arrived on the listener ``local``."""
    parameters: Mapping[str, str | None] = {} if local.transport == "udp" else {"transport": local.transport}
    return SIPURI(local.host, user=user or None, port=local.port, secure=secure, parameters=parameters)


@dataclass(frozen=True)
class DialogResult(Result):
    """The outcome of an in-dialog request; ``dialog_gone`` is True when the dialog is over
    afterwards (a 481 or a 408, a transaction timeout, or a dialog terminated meanwhile)."""

    dialog_gone: bool = False


class _Attempt:
    """The listener of one client transaction; it speaks only while it is the current one."""

    def __init__(self, owner: DialogRequest, hop: Hop, request: SIPRequest) -> None:
        self.owner = owner
        self.hop = hop
        self.request = request

    def _live(self) -> bool:
        return self.owner._attempt is self and not self.owner.done

    def response_received(self, transaction: Any, response: SIPResponse) -> None:
        if self._live():
            self.owner._on_response(self, response)

    def timed_out(self, transaction: Any) -> None:
        if self._live():
            self.owner._on_attempt_failed(self, 408, f"No response from {self.hop}", timed_out=True)

    def transport_failed(self, transaction: Any, error: BaseException | None) -> None:
        if self._live():
            detail = f": {error}" if error is not None and str(error) else ""
            self.owner._on_attempt_failed(self, 503, f"Cannot reach {self.hop}{detail}", timed_out=False)

    def terminated(self, transaction: Any) -> None:
        pass


class DialogRequest:
    """One logical request in ``dialog`` (see the module documentation); ``on_done(result)`` is
    called exactly once unless ``cancel()`` comes first."""

    def __init__(
        self,
        engine: EngineAPI,
        dialog: Dialog,
        method: str,
        *,
        resolver: RouteResolver,
        authenticator: Authenticator,
        on_done: Callable[[DialogResult], None],
        extra_headers: Sequence[tuple[str, Any] | BaseHeader] = (),
        body: bytes = b"",
        content_type: str | BaseHeader | None = None,
        timeout: float | None = None,
    ) -> None:
        self.engine = engine
        self.dialog = dialog
        self.method = method
        self.resolver = resolver
        self.authenticator = authenticator
        self.policy = RetryPolicy()
        self.on_done = on_done
        self.extra_headers = list(extra_headers)
        self.body = body
        self.content_type = content_type
        self.timeout = timeout
        self.done = False
        self.hops: list[Hop] = []
        self.last_request: SIPRequest | None = None
        self._index = 0
        self._attempt: _Attempt | None = None
        self._deadline: Any = None

    def start(self) -> None:
        if self.timeout is not None:
            self._deadline = self.engine.reactor.callLater(self.timeout, self._overall_timeout)
        if self.dialog.terminated:
            self._finish(DialogResult(481, "The dialog is terminated", dialog_gone=True))
            return
        next_hop = request_target(self.dialog.remote_target, self.dialog.route_set)[2]
        self.resolver.resolve(next_hop).addCallbacks(self._resolved, self._resolution_failed)

    def cancel(self) -> None:
        """Stop waiting: nothing more is sent and ``on_done`` is not called."""
        self.done = True
        self._attempt = None
        self._cancel_deadline()

    # -- resolution ---------------------------------------------------------------------------

    def _next_hop_text(self) -> str:
        return str(request_target(self.dialog.remote_target, self.dialog.route_set)[2])

    def _resolved(self, hops: Sequence[Hop]) -> None:
        if self.done:
            return
        if not self.engine.is_running:
            self._finish(DialogResult(503, "The engine is not running"))
            return
        usable = [
            hop
            for hop in hops
            if self.engine.local_address(hop.address.transport, ipv6=hop.address.family == 6) is not None
        ]
        if not usable:
            self._finish(DialogResult(503, f"No local transport to reach {self._next_hop_text()}"))
            return
        self.hops = usable
        self._send()

    def _resolution_failed(self, failure: Failure) -> None:
        if not self.done:
            reason = f"Cannot resolve {self._next_hop_text()}: {failure.getErrorMessage()}"
            self._finish(DialogResult(503, reason))

    # -- sending ------------------------------------------------------------------------------

    def _send(self) -> None:
        hop = self.hops[self._index]
        try:
            request, _ = self.dialog.create_request(
                self.method, extra_headers=self.extra_headers, body=self.body, content_type=self.content_type
            )
        except ProtocolError as error:  # the dialog ended under us
            self._finish(DialogResult(481, f"Cannot send {self.method}: {error}", dialog_gone=True))
            return
        try:
            self.authenticator.add_credentials(request)
        except AuthError as error:
            self._finish(DialogResult(403, f"Cannot compute credentials: {error}"))
            return
        self.last_request = request
        attempt = self._attempt = _Attempt(self, hop, request)
        try:
            self.engine.send_request(request, hop.address, attempt, tls_name=hop.tls_name)
        except ValueError as error:  # no listener for the transport actually used
            if self._attempt is attempt and not self.done:
                self._on_attempt_failed(attempt, 503, f"Cannot send to {hop}: {error}", timed_out=False)
        except EngineError as error:  # the engine stopped under us
            if self._attempt is attempt and not self.done:
                self._finish(DialogResult(503, f"Cannot send to {hop}: {error}", hop=hop))

    def _on_response(self, attempt: _Attempt, response: SIPResponse) -> None:
        if response.code < 200:
            return
        if response.code in (401, 407) and self.authenticator.answer(response, self.policy):
            self._send()
        elif response.code == 503 and self._index + 1 < len(self.hops):
            self._index += 1
            self._send()
        else:
            try:
                self.dialog.receive_response(attempt.request, response)
            except ProtocolError:
                pass  # a response the dialog cannot use changes nothing in it
            result = DialogResult(
                response.code, response.reason, response, attempt.hop, dialog_gone=self.dialog.terminated
            )
            self._finish(result)

    def _on_attempt_failed(self, attempt: _Attempt, code: int, reason: str, *, timed_out: bool) -> None:
        if self._index + 1 < len(self.hops):
            self._index += 1
            self._send()
            return
        if timed_out:
            try:
                self.dialog.timed_out(attempt.request)
            except ProtocolError:
                pass
        self._finish(DialogResult(code, reason, None, attempt.hop, dialog_gone=self.dialog.terminated))

    # -- ending -------------------------------------------------------------------------------

    def _overall_timeout(self) -> None:
        self._deadline = None
        if not self.done:
            assert self.timeout is not None
            self._finish(DialogResult(408, f"No final response within {self.timeout:g} s"))

    def _cancel_deadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _finish(self, result: DialogResult) -> None:
        self.done = True
        self._attempt = None
        self._cancel_deadline()
        self.on_done(result)


class Timers:
    """Named one-shot timers on a reactor; setting a name again replaces the old timer."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self._calls: dict[str, Any] = {}

    def set(self, name: str, delay: float, function: Callable[[], None]) -> None:
        self.cancel(name)

        def fire() -> None:
            self._calls.pop(name, None)
            function()

        self._calls[name] = self.reactor.callLater(max(0.0, delay), fire)

    def cancel(self, name: str) -> None:
        call = self._calls.pop(name, None)
        if call is not None and call.active():
            call.cancel()

    def cancel_all(self) -> None:
        for name in list(self._calls):
            self.cancel(name)

    def __contains__(self, name: str) -> bool:
        return name in self._calls

    def remaining(self, name: str) -> int | None:
        """Whole seconds left before the timer ``name`` fires (None if it is not set)."""
        call = self._calls.get(name)
        if call is None:
            return None
        return max(0, math.ceil(call.getTime() - self.reactor.seconds()))
