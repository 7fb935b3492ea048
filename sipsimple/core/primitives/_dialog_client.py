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
   With ``shared_usage=True`` (the request belongs to one of several usages of the dialog, such as
   a REFER or NOTIFY inside an INVITE dialog) the dialog applies RFC 5057 instead: a 481, a 408 or
   a timeout ends only that usage, and only the dialog-terminating codes end the dialog.
6. ``timeout`` bounds the whole logical request: when it passes the result is 408 and whatever is
   still in flight is ignored (the dialog is left as it is).

Everything runs on the reactor thread; timers are ``engine.reactor.callLater`` calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sipsimple.core.engine import EngineError
from sipsimple.core.sip.dialog import Dialog, ProtocolError, request_target
from sipsimple.core.sip.headers import BaseHeader
from sipsimple.core.sip.message import SIPRequest, SIPResponse
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI

from ._client import Authenticator, EngineAPI, HopRequest, Result, _Attempt, _Stop
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
    afterwards (a 481 or a 408, a transaction timeout, or a dialog terminated meanwhile; for a
    ``shared_usage`` request only a dialog-terminating code of RFC 5057, or a dialog terminated
    meanwhile)."""

    dialog_gone: bool = False


class DialogRequest(HopRequest):
    """One logical request in ``dialog`` (see the module documentation and ``HopRequest``)."""

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
        shared_usage: bool = False,
    ) -> None:
        super().__init__(
            engine, resolver=resolver, authenticator=authenticator, on_done=on_done, timeout=timeout
        )
        self.shared_usage = shared_usage
        self.dialog = dialog
        self.method = method
        self.extra_headers = list(extra_headers)
        self.body = body
        self.content_type = content_type

    def _target_uri(self) -> Any:
        if self.dialog.terminated:
            raise _Stop(DialogResult(481, "The dialog is terminated", dialog_gone=True))
        return request_target(self.dialog.remote_target, self.dialog.route_set)[2]

    def _build(self) -> SIPRequest:
        try:
            request, _ = self.dialog.create_request(
                self.method, extra_headers=self.extra_headers, body=self.body, content_type=self.content_type
            )
        except ProtocolError as error:  # the dialog ended under us
            raise _Stop(DialogResult(481, f"Cannot send {self.method}: {error}", dialog_gone=True)) from None
        return request

    def _result(
        self, code: int, reason: str, response: SIPResponse | None = None, hop: Hop | None = None
    ) -> DialogResult:
        return DialogResult(code, reason, response, hop, dialog_gone=self.dialog.terminated)

    def _final(self, attempt: _Attempt, response: SIPResponse) -> DialogResult:
        try:
            self.dialog.receive_response(attempt.request, response, shared_usage=self.shared_usage)
        except ProtocolError:
            pass  # a response the dialog cannot use changes nothing in it
        return self._result(response.code, response.reason, response, attempt.hop)

    def _failed(self, attempt: _Attempt, code: int, reason: str, timed_out: bool) -> DialogResult:
        if timed_out:
            try:
                self.dialog.timed_out(attempt.request, shared_usage=self.shared_usage)
            except ProtocolError:
                pass
        return self._result(code, reason, None, attempt.hop)


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
