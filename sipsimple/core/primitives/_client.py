"""What every out-of-dialog request primitive shares: one logical request, from route to final answer.

A ``ClientRequest`` takes a ``RequestTemplate`` (method, Request-URI, headers, body) and a route and
runs the logical request to one final ``Result``:

1. The route is resolved (``route.py``) into ``Hop`` candidates; candidates the engine has no
   listener for (no TLS listener, no IPv6 socket) are skipped.
2. Each transmission is a new client transaction with the next CSeq of the owner's counter, the
   Authorization/Proxy-Authorization values of every challenge answered so far, a fresh branch
   (the engine stamps the Via) and ``Route: <route;lr>`` (the route is a loose-routing outbound
   proxy, RFC 3261 §8.1.2).
3. A 401/407 is answered through the ``Authenticator`` (``DigestClient`` + one ``RetryPolicy`` per
   logical request, see ``sipsimple.core.sip.auth``): a re-send happens only while the policy says
   so, so a wrong password costs one extra request, never a storm.
4. A 503 response, a transport failure or a transaction timeout moves on to the next candidate
   (RFC 3263 §4.3). When none is left, a timeout is reported as 408 and a transport failure as 503
   (RFC 3261 §8.1.3.1), with a reason saying what failed.
5. ``timeout`` bounds the whole logical request: when it passes the result is 408 and whatever is
   still in flight is ignored.

``Authenticator`` lives as long as its primitive, so a refresh sends credentials pre-emptively for
the challenges it remembers (with the next nonce count) and usually needs one round trip.

Everything here runs on the reactor thread; timers are ``engine.reactor.callLater`` calls, so tests
drive them with a ``twisted.internet.task.Clock``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.python.failure import Failure

from sipsimple.core._errors import SIPCoreError
from sipsimple.core.engine import Engine, EngineError
from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.auth import (
    AuthError,
    Challenge,
    DigestClient,
    RetryPolicy,
    parse_challenges,
    select_challenges,
)
from sipsimple.core.sip.credentials import BaseCredentials
from sipsimple.core.sip.headers import (
    HEADER_TABLE,
    BaseHeader,
    CSeqHeader,
    FrozenHeader,
    RouteHeader,
    canonical_name,
    frozen,
    mutable,
)
from sipsimple.core.sip.ids import new_tag
from sipsimple.core.sip.message import SIPMessage, SIPRequest, SIPResponse
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI, BaseSIPURI

from .route import Hop, HostResolver, RouteResolver, route_uri

__all__ = [
    "Authenticator",
    "ClientRequest",
    "EngineAPI",
    "RequestTemplate",
    "Result",
    "headers_of",
    "refresh_delay",
]

#: After a failed refresh, ``...WillExpire`` is posted this many seconds before the expiry.
EXPIRY_WARNING = 10.0


def refresh_delay(granted: float) -> float:
    """When to refresh something granted for ``granted`` seconds: 10% before the end, but at least
    10 s before it, and never before half of it (300 s -> 270 s, 60 s -> 50 s, 10 s -> 5 s)."""
    return max(granted / 2.0, granted - max(10.0, granted * 0.1))


class EngineAPI(Protocol):
    """What the primitives use of the engine (``SIPEngine`` has it; tests give a fake)."""

    @property
    def reactor(self) -> Any: ...

    @property
    def is_running(self) -> bool: ...

    def post(self, name: str, sender: object = None, **attributes: Any) -> None: ...

    def send_request(
        self,
        request: SIPRequest,
        destination: TransportAddress,
        listener: Any,
        *,
        tls_name: str | None = None,
    ) -> Any: ...

    def local_address(self, transport: str, ipv6: bool = False) -> TransportAddress | None: ...


def default_engine(engine: EngineAPI | None) -> EngineAPI:
    return engine if engine is not None else Engine()


def check_running(engine: EngineAPI) -> None:
    if not engine.is_running:
        raise SIPCoreError("the engine is not running")


def default_resolver(engine: EngineAPI, resolver: RouteResolver | None) -> RouteResolver:
    return resolver if resolver is not None else HostResolver(engine.reactor)


def with_tag(header: BaseHeader, tag: str | None = None) -> Any:
    """A frozen copy of a From/To header carrying ``tag`` (a new one when None and it has none)."""
    if getattr(header, "tag", None) and tag is None:
        return frozen(header)
    copy = mutable(header)
    copy.tag = tag or new_tag()  # type: ignore[attr-defined]
    return frozen(copy)


def loose_route(route: Any) -> RouteHeader:
    """``Route: <uri;lr>`` for a route given as a RouteHeader or a SIP URI."""
    uri = SIPURI.new(route_uri(route))
    if not any(name.lower() == "lr" for name in uri.parameters):
        uri.parameters["lr"] = None
    return RouteHeader(uri)


def as_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def headers_of(message: SIPMessage) -> dict[str, Any]:
    """A message's headers for notifications: canonical name -> parsed value (a list of header
    objects for list headers such as Contact, Route, Via; the first value otherwise). A value
    that does not parse is given as a ``FrozenHeader`` with its text."""
    result: dict[str, Any] = {}
    for name, text in message.headers:
        canonical = canonical_name(name)
        if canonical in result:
            continue
        row = HEADER_TABLE.get(canonical)
        try:
            value = message.get_all(canonical) if row is not None and row.is_list else message.get(canonical)
        except SIPParseError:
            value = FrozenHeader(canonical, text)
        result[canonical] = value
    return result


@dataclass
class RequestTemplate:
    """A request before its CSeq, Via and credentials: what each transmission is built from."""

    method: str
    uri: Any
    headers: list[tuple[str, Any]] = field(default_factory=list)
    body: bytes = b""

    def build(self, cseq: int) -> SIPRequest:
        request = SIPRequest(self.method, self.uri)
        for name, value in self.headers:
            request.add(name, value)
        request.add("CSeq", CSeqHeader(cseq, self.method))
        request.body = self.body
        return request


@dataclass(frozen=True)
class Result:
    """The final outcome of a logical request. ``response`` is None when the code was made up
    locally (408 for a timeout, 503 for a transport or resolution failure)."""

    code: int
    reason: str
    response: SIPResponse | None = None
    hop: Hop | None = None

    @property
    def is_success(self) -> bool:
        return 200 <= self.code < 300

    @property
    def headers(self) -> dict[str, Any]:
        return {} if self.response is None else headers_of(self.response)

    @property
    def body(self) -> bytes:
        return b"" if self.response is None else self.response.body


class Authenticator:
    """Answers digest challenges for one primitive and remembers them for the next requests."""

    def __init__(self, credentials: BaseCredentials | None) -> None:
        self.client = (
            None
            if credentials is None
            else DigestClient(credentials.username, credentials.password, realm=credentials.realm or "*")
        )
        self._answered: dict[tuple[bool, str], Challenge] = {}

    def add_credentials(self, request: SIPRequest) -> None:
        """Add one Authorization/Proxy-Authorization per remembered challenge (next nonce count)."""
        if self.client is None:
            return
        for (proxy, _realm), challenge in self._answered.items():
            value = self.client.authorize(challenge, request.method, request.request_uri, request.body)
            request.add("Proxy-Authorization" if proxy else "Authorization", value)

    def answer(self, response: SIPResponse, policy: RetryPolicy) -> bool:
        """Take the challenges of a 401/407; True when the request should be sent again."""
        if self.client is None:
            return False
        proxy = response.code == 407
        name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        challenges: list[Challenge] = []
        for header in response.get_all(name):
            try:
                challenges.extend(parse_challenges(header.body))
            except AuthError:
                continue  # one malformed challenge does not spoil the others
        selected = [c for c in select_challenges(challenges) if self.client.can_answer(c)]
        if not selected:
            return False
        verdicts = [policy.should_retry(challenge, proxy=proxy) for challenge in selected]
        if not all(verdicts):
            for challenge in selected:
                self._answered.pop((proxy, challenge.realm), None)
            return False
        for challenge in selected:
            self._answered[(proxy, challenge.realm)] = challenge
        return True


class _Attempt:
    """The listener of one client transaction; it speaks only while it is the current one."""

    def __init__(self, owner: HopRequest, hop: Hop, request: SIPRequest) -> None:
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


class _Stop(Exception):
    """Raised by ``_build`` when the request cannot be made: finish with ``result``."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.reason)
        self.result = result


class HopRequest(ABC):
    """One logical request sent hop by hop until one final answer (shared by the out-of-dialog
    ``ClientRequest`` and the in-dialog ``DialogRequest``).

    The next hop's URI (``_target_uri``) is resolved once into candidates; candidates the engine has
    no listener for are skipped. Each transmission is a new request from ``_build`` (so CSeq+1 for an
    authentication re-send or a failover). 401/407 are answered under one RetryPolicy; a 503, a
    transport failure or a transaction timeout moves on to the next candidate; with none left a
    timeout is 408 and a transport failure 503 (RFC 3261 §8.1.3.1). ``timeout`` bounds the whole
    exchange. ``on_done(result)`` is called exactly once unless ``cancel()`` comes first.
    """

    def __init__(
        self,
        engine: EngineAPI,
        *,
        resolver: RouteResolver,
        authenticator: Authenticator,
        on_done: Callable[[Any], None],
        timeout: float | None = None,
    ) -> None:
        self.engine = engine
        self.resolver = resolver
        self.authenticator = authenticator
        self.policy = RetryPolicy()
        self.on_done = on_done
        self.timeout = timeout
        self.done = False
        self.hops: list[Hop] = []
        self.last_request: SIPRequest | None = None
        self._index = 0
        self._attempt: _Attempt | None = None
        self._deadline: Any = None
        self._target: Any = None

    # -- what subclasses provide ----------------------------------------------------------------

    @abstractmethod
    def _target_uri(self) -> Any:
        """The URI of the next hop (raise ValueError, or _Stop, when there is none)."""

    @abstractmethod
    def _build(self) -> SIPRequest:
        """A new transmission of the request (raise _Stop to finish instead)."""

    @abstractmethod
    def _result(
        self, code: int, reason: str, response: SIPResponse | None = None, hop: Hop | None = None
    ) -> Any:
        """The result object handed to ``on_done``."""

    def _final(self, attempt: _Attempt, response: SIPResponse) -> Any:
        """The result for a final response that ends the exchange."""
        return self._result(response.code, response.reason, response, attempt.hop)

    def _failed(self, attempt: _Attempt, code: int, reason: str, timed_out: bool) -> Any:
        """The result when the last candidate failed (408 for a timeout, 503 otherwise)."""
        return self._result(code, reason, None, attempt.hop)

    # -- the exchange ---------------------------------------------------------------------------

    def start(self) -> None:
        if self.timeout is not None:
            self._deadline = self.engine.reactor.callLater(self.timeout, self._overall_timeout)
        try:
            uri = self._target_uri()
        except _Stop as stop:
            self._finish(stop.result)
            return
        except ValueError as error:
            self._finish(self._result(503, str(error)))
            return
        self._target = uri
        self.resolver.resolve(uri).addCallbacks(self._resolved, self._resolution_failed)

    def cancel(self) -> None:
        """Stop waiting: nothing more is sent and ``on_done`` is not called."""
        self.done = True
        self._attempt = None
        self._cancel_deadline()
        self.on_done = _finished

    def _resolved(self, hops: Sequence[Hop]) -> None:
        if self.done:
            return
        if not self.engine.is_running:
            self._finish(self._result(503, "The engine is not running"))
            return
        usable = [hop for hop in hops if self._has_listener(hop.address)]
        if not usable:
            target = self._target
            if hops:
                kinds = ", ".join(sorted({f"{h.address.transport}/IPv{h.address.family}" for h in hops}))
                self._finish(self._result(503, f"No local {kinds} transport to reach {target}"))
            else:
                self._finish(self._result(503, f"No address for {target}"))
            return
        self.hops = usable
        self._send()

    def _resolution_failed(self, failure: Failure) -> None:
        if not self.done:
            reason = f"Cannot resolve {self._target}: {failure.getErrorMessage()}"
            self._finish(self._result(503, reason))

    def _has_listener(self, address: TransportAddress) -> bool:
        return self.engine.local_address(address.transport, ipv6=address.family == 6) is not None

    def _send(self) -> None:
        hop = self.hops[self._index]
        try:
            request = self._build()
            self.authenticator.add_credentials(request)
        except _Stop as stop:
            self._finish(stop.result)
            return
        except AuthError as error:
            self._finish(self._result(403, f"Cannot compute credentials: {error}"))
            return
        self.last_request = request
        attempt = self._attempt = _Attempt(self, hop, request)
        try:
            self.engine.send_request(request, hop.address, attempt, tls_name=hop.tls_name)
        except ValueError as error:  # no listener for the transport actually used (UDP->TCP switch)
            if self._attempt is attempt and not self.done:
                self._on_attempt_failed(attempt, 503, f"Cannot send to {hop}: {error}", timed_out=False)
        except EngineError as error:  # the engine stopped under us
            if self._attempt is attempt and not self.done:
                self._finish(self._result(503, f"Cannot send to {hop}: {error}", hop=hop))

    def _on_response(self, attempt: _Attempt, response: SIPResponse) -> None:
        if response.code < 200:
            return
        if response.code in (401, 407) and self.authenticator.answer(response, self.policy):
            self._send()
        elif response.code == 503 and self._index + 1 < len(self.hops):
            self._index += 1
            self._send()
        else:
            self._finish(self._final(attempt, response))

    def _on_attempt_failed(self, attempt: _Attempt, code: int, reason: str, *, timed_out: bool) -> None:
        if self._index + 1 < len(self.hops):
            self._index += 1
            self._send()
        else:
            self._finish(self._failed(attempt, code, reason, timed_out))

    def _overall_timeout(self) -> None:
        self._deadline = None
        if not self.done:
            hop = None if self._attempt is None else self._attempt.hop  # the hop that was waited for
            self._finish(self._result(408, f"No final response within {self.timeout:g} s", hop=hop))

    def _cancel_deadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _finish(self, result: Any) -> None:
        """The one end of the exchange: ``on_done`` hears ``result`` and is then let go. It is
        often a closure over this request (``lambda result: owner._done(request, result)``):
        dropping it ends that reference cycle, so reference counting frees the request."""
        self.done = True
        self._attempt = None
        self._cancel_deadline()
        on_done, self.on_done = self.on_done, _finished
        on_done(result)


def _finished(result: Any) -> None:
    """``on_done`` of a request that finished or was cancelled: nothing is told any more."""


class ClientRequest(HopRequest):
    """One logical out-of-dialog request to ``route`` (see ``HopRequest``)."""

    def __init__(
        self,
        engine: EngineAPI,
        template: RequestTemplate,
        route: Any,
        *,
        resolver: RouteResolver,
        authenticator: Authenticator,
        next_cseq: Callable[[], int],
        on_done: Callable[[Result], None],
        timeout: float | None = None,
    ) -> None:
        super().__init__(
            engine, resolver=resolver, authenticator=authenticator, on_done=on_done, timeout=timeout
        )
        self.template = template
        self.route = route
        self.next_cseq = next_cseq

    def _target_uri(self) -> Any:
        return route_uri(self.route)

    def _build(self) -> SIPRequest:
        request = self.template.build(self.next_cseq())
        request.add("Route", loose_route(self.route), first=True)
        return request

    def _result(
        self, code: int, reason: str, response: SIPResponse | None = None, hop: Hop | None = None
    ) -> Result:
        return Result(code, reason, response, hop)


def extra(headers: Iterable[BaseHeader] | None) -> list[tuple[str, Any]]:
    """Application headers as (name, frozen header) pairs."""
    return [(header.name, frozen(header)) for header in headers or ()]


def match_uri(a: Any, b: Any) -> bool:
    return isinstance(a, BaseSIPURI) and isinstance(b, BaseSIPURI) and a.matches(b)


def granted_expires(response: SIPResponse, contact_uri: Any = None, default: int | None = None) -> int | None:
    """The expiry a 2xx grants: the ``expires`` of the Contact matching ``contact_uri`` (RFC 3261
    §10.2.4), else the Expires header, else ``default``."""
    try:
        if contact_uri is not None:
            for contact in response.get_all("Contact"):
                if match_uri(contact.uri, contact_uri) and contact.expires is not None:
                    return int(contact.expires)
        header = response.get("Expires")
    except SIPParseError:
        return default
    return default if header is None else int(header)


def min_expires_of(response: SIPResponse | None) -> int | None:
    """The Min-Expires of a 423 (None when absent or malformed)."""
    if response is None:
        return None
    try:
        header = response.get("Min-Expires")
    except SIPParseError:
        return None
    return None if header is None else int(header)
