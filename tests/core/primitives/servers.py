"""A small in-process SIP server on a second SIPEngine: registrar (401 digest challenges, 423,
bindings), event state compositor (PUBLISH with entity tags, 412) and MESSAGE sink (407 challenges
like a proxy). Only for tests."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from sipsimple.core.sip.auth import DigestServer, Verdict
from sipsimple.core.sip.headers import ContactHeader, ExpiresHeader, MinExpiresHeader, frozen, mutable
from sipsimple.core.sip.message import SIPRequest, make_response
from sipsimple.core.sip.stack import ServerTransaction

REALM = "example.test"
PASSWORDS = {"alice": "secret-alice", "bob": "secret-bob"}


@dataclass
class Binding:
    contact: ContactHeader
    expires_at: float


@dataclass
class Entity:
    body: bytes
    expires: int


@dataclass
class TestServer:
    """Handles REGISTER, PUBLISH and MESSAGE for ``engine``; every request it got is kept."""

    __test__ = False

    engine: object
    passwords: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))
    min_expires: int | None = None
    max_expires: int | None = None
    proxy_auth: bool = True  # PUBLISH and MESSAGE are challenged with 407, REGISTER with 401
    received: list[SIPRequest] = field(default_factory=list)
    bindings: dict[str, dict[str, Binding]] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    messages: list[SIPRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        counter = itertools.count()
        self.digest = DigestServer(
            REALM, self.passwords.get, lambda: f"nonce{next(counter)}", time.monotonic, algorithms=("MD5",)
        )
        self._etags = (f"etag{n}" for n in itertools.count(1))
        for method, handler in (
            ("REGISTER", self._register),
            ("PUBLISH", self._publish),
            ("MESSAGE", self._message),
        ):
            self.engine.register_method_handler(method, handler)  # type: ignore[attr-defined]

    def count(self, method: str) -> int:
        return sum(1 for request in self.received if request.method == method)

    # -- authentication -----------------------------------------------------------------------

    def _authorized(self, transaction: ServerTransaction, proxy: bool) -> bool:
        request = transaction.request
        name = "Proxy-Authorization" if proxy else "Authorization"
        stale = False
        for header in request.get_all(name):
            verdict = self.digest.check(header.body, request.method, request.request_uri, request.body)
            if verdict is Verdict.ACCEPTED:
                return True
            stale = stale or verdict is Verdict.STALE
        code, challenge = (407, "Proxy-Authenticate") if proxy else (401, "WWW-Authenticate")
        transaction.send_response(
            make_response(request, code, headers=[(challenge, self.digest.challenge(stale=stale))])
        )
        return False

    # -- REGISTER -----------------------------------------------------------------------------

    def _register(self, transaction: ServerTransaction) -> None:
        request = transaction.request
        self.received.append(request)
        if not self._authorized(transaction, proxy=False):
            return
        aor = str(request.to_header.uri)
        header = request.get("Expires")
        default = 3600 if header is None else int(header)
        contacts = request.get_all("Contact")
        for contact in contacts:
            expires = default if contact.expires is None else contact.expires
            if self.min_expires is not None and 0 < expires < self.min_expires:
                transaction.send_response(
                    make_response(request, 423, headers=[("Min-Expires", MinExpiresHeader(self.min_expires))])
                )
                return
        now = time.monotonic()
        table = self.bindings.setdefault(aor, {})
        for contact in contacts:
            expires = default if contact.expires is None else contact.expires
            if self.max_expires is not None:
                expires = min(expires, self.max_expires)
            key = str(contact.uri)
            if expires == 0:
                table.pop(key, None)
            else:
                kept = mutable(contact)
                kept.expires = None
                table[key] = Binding(kept, now + expires)
        answer = []
        for binding in table.values():
            contact = mutable(binding.contact)
            contact.expires = max(0, round(binding.expires_at - now))
            answer.append(frozen(contact))
        headers = [("Contact", answer)] if answer else []
        transaction.send_response(make_response(request, 200, to_tag="reg", headers=headers))

    # -- PUBLISH ------------------------------------------------------------------------------

    def _publish(self, transaction: ServerTransaction) -> None:
        request = transaction.request
        self.received.append(request)
        if self.proxy_auth and not self._authorized(transaction, proxy=True):
            return
        header = request.get("Expires")
        expires = 3600 if header is None else int(header)
        if self.min_expires is not None and 0 < expires < self.min_expires:
            transaction.send_response(
                make_response(request, 423, headers=[("Min-Expires", MinExpiresHeader(self.min_expires))])
            )
            return
        match = request.get("SIP-If-Match")
        if match is not None:
            if match.body not in self.entities:
                transaction.send_response(make_response(request, 412))
                return
            entity = self.entities.pop(match.body)
            if expires == 0:
                transaction.send_response(make_response(request, 200, to_tag="pub"))
                return
            body = request.body or entity.body
        elif not request.body:
            transaction.send_response(make_response(request, 400, "Initial PUBLISH without a body"))
            return
        else:
            body = request.body
        etag = next(self._etags)
        self.entities[etag] = Entity(body, expires)
        transaction.send_response(
            make_response(
                request, 200, to_tag="pub", headers=[("SIP-ETag", etag), ("Expires", ExpiresHeader(expires))]
            )
        )

    # -- MESSAGE ------------------------------------------------------------------------------

    def _message(self, transaction: ServerTransaction) -> None:
        request = transaction.request
        self.received.append(request)
        if self.proxy_auth and not self._authorized(transaction, proxy=True):
            return
        self.messages.append(request)
        transaction.send_response(make_response(request, 200, to_tag="msg"))
