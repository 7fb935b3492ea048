"""SIP messages: requests and responses with headers parsed lazily, and the RFC 3261 builders.

A message keeps its header fields in order as entries ``[name, raw text, parsed value]``. Messages
read from the network (``parse_message``) keep the raw text and parse a field only when it is
asked for, into the *frozen* header classes, so serialising an unchanged message writes back the
bytes that were received. Fields set by the application hold header objects (or plain strings) and
are serialised from them. ``Content-Length`` is always computed from the body when serialising.

``get(name)`` gives the first value of a header (for list headers such as Via, Contact and Route,
the first element), ``get_all(name)`` every value in order with the lists flattened. Names may be
given in any case or compact form. A malformed value raises SIPParseError when it is asked for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip._scanner import ScannedMessage, scan
from sipsimple.core.sip.headers import (
    BaseHeader,
    CSeqHeader,
    MaxForwardsHeader,
    ToHeader,
    canonical_name,
    parse_header,
)
from sipsimple.core.sip.status import reason_phrase
from sipsimple.core.sip.uri import AbsoluteURI, FrozenSIPURI

__all__ = [
    "SIPMessage",
    "SIPParseError",
    "SIPRequest",
    "SIPResponse",
    "make_ack",
    "make_cancel",
    "make_response",
    "parse_message",
]

try:
    from sipsimple.core.sip._fastparse import serialises_verbatim as _serialises_verbatim
except ImportError:  # without the extension, received messages are always re-serialised

    def _serialises_verbatim(data: bytes, length: int) -> bool:
        return False


_ENCODING = "utf-8"


_NAMES: dict[str, tuple[str, str]] = {}


def _names(name: str) -> tuple[str, str]:
    """The lookup key (canonical name lowercased) and the canonical name of a header name spelling."""
    names = _NAMES.get(name)
    if names is None:
        canonical = canonical_name(name)
        names = (canonical.lower(), canonical)
        if len(_NAMES) < 4096:
            _NAMES[name] = names
    return names


def _key(name: str) -> str:
    return _names(name)[0]


class _Entry:
    __slots__ = ("key", "name", "parsed", "raw")

    def __init__(self, name: str, raw: str | None, parsed: Any = None) -> None:
        self.name = name
        self.key = name.lower()
        self.raw = raw
        self.parsed = parsed

    def value(self) -> Any:
        if self.parsed is None:
            self.parsed = parse_header(self.name, self.raw or "", frozen=True)
        return self.parsed

    def text(self) -> str:
        if self.raw is not None:
            return self.raw
        parsed = self.parsed
        if isinstance(parsed, list):
            return ", ".join(item.body for item in parsed)
        if isinstance(parsed, BaseHeader):
            text = parsed.body
            if parsed.frozen:
                self.raw = text  # an immutable header always writes the same text
            return text
        return str(parsed)


def _new_entry(canonical: str, value: Any) -> _Entry:
    return _Entry(canonical, value) if isinstance(value, str) else _Entry(canonical, None, value)


def _values(entry: _Entry) -> list[Any]:
    value = entry.value()
    return value if isinstance(value, list) else [value]


class SIPMessage(ABC):
    """Headers and body shared by requests and responses.

    A message read from the network stays a view on the scanner's output until it is changed:
    lookups go through the scanner's C index and parsed values are cached per header name, and
    ``to_bytes()`` returns the received bytes when they are already in the form it would write.
    The first change turns the view into the list of entries a built message has.
    """

    __slots__ = ("_cache", "_entries", "_received", "_scanned", "body")

    def __init__(self, headers: Iterable[tuple[str, Any]] = (), body: bytes = b"") -> None:
        self._entries: list[_Entry] | None = []
        self._scanned: ScannedMessage | None = None
        self._cache: dict[str, list[Any]] | None = None
        self._received: tuple[Any, ...] | None = None
        self.body = bytes(body)
        for name, value in headers:
            self.add(name, value)

    # the received view ---------------------------------------------------------------------------

    def _lazy_values(self, name: str) -> list[Any]:
        """Every value of ``name`` from the scanner's output, parsed once and cached."""
        cache = self._cache
        assert self._scanned is not None and cache is not None
        values = cache.get(name)  # also kept under the spelling asked for: no name lookup next time
        if values is not None:
            return values
        key, canonical = _names(name)
        values = cache.get(key)
        if values is None:
            values = []
            for raw in self._scanned.get_all(name):
                parsed = parse_header(canonical, raw, frozen=True)
                if isinstance(parsed, list):
                    values.extend(parsed)
                else:
                    values.append(parsed)
            cache[key] = values
        cache[name] = values
        return values

    def _materialise(self) -> list[_Entry]:
        """The entry list, built from the scanner's output the first time the message changes."""
        if self._entries is None:
            assert self._scanned is not None
            self._entries = [
                _Entry(name, value) for name, value in self._scanned.headers if name != "Content-Length"
            ]
            self._scanned = None
            self._cache = None
        self._received = None
        return self._entries

    # reading ------------------------------------------------------------------------------------

    def _matching(self, name: str) -> Iterator[_Entry]:
        key = _key(name)
        entries = self._entries if self._entries is not None else self._materialise()
        return (entry for entry in entries if entry.key == key)

    def __contains__(self, name: str) -> bool:
        if self._entries is None:
            return _key(name) != "content-length" and self._scanned.get(name) is not None  # type: ignore[union-attr]
        return next(self._matching(name), None) is not None

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of header ``name`` (parsed), or ``default``."""
        if self._entries is None:
            values = self._lazy_values(name)
            return values[0] if values else default
        for entry in self._matching(name):
            values = _values(entry)
            if values:
                return values[0]
        return default

    def get_all(self, name: str) -> list[Any]:
        """Every value of header ``name`` (parsed), lists flattened, in message order."""
        if self._entries is None:
            return list(self._lazy_values(name))
        result: list[Any] = []
        for entry in self._matching(name):
            result.extend(_values(entry))
        return result

    def names(self) -> set[str]:
        """The canonical names of the header fields present (Content-Length excluded)."""
        if self._entries is None:
            return {n for n, _ in self._scanned.headers if n != "Content-Length"}  # type: ignore[union-attr]
        return {entry.name for entry in self._entries}

    def count(self, name: str) -> int:
        """How many fields named ``name`` the message has (values are not parsed)."""
        if self._entries is None:
            return len(self._scanned.get_all(name))  # type: ignore[union-attr]
        return sum(1 for _ in self._matching(name))

    def get_raw(self, name: str) -> str | None:
        """The text of the first field named ``name``, unparsed."""
        if self._entries is None:
            return self._scanned.get(name)  # type: ignore[union-attr]
        entry = next(self._matching(name), None)
        return None if entry is None else entry.text()

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header field as (name, text), in order (Content-Length excluded)."""
        if self._entries is None:
            return [(n, v) for n, v in self._scanned.headers if n != "Content-Length"]  # type: ignore[union-attr]
        return [(entry.name, entry.text()) for entry in self._entries]

    # writing ------------------------------------------------------------------------------------

    def add(self, name: str, value: Any, *, first: bool = False) -> None:
        """Add a field: ``value`` is a header object, a list of them (list headers) or text."""
        key, canonical = _names(name)
        if key == "content-length":
            return  # always computed from the body
        entries = self._materialise()
        entries.insert(0 if first else len(entries), _new_entry(canonical, value))

    def set(self, name: str, value: Any) -> None:
        """Replace every field named ``name`` by one with ``value`` (kept at the first one's place)."""
        key, canonical = _names(name)
        entries = self._materialise()
        position = next((i for i, entry in enumerate(entries) if entry.key == key), len(entries))
        self._entries = [entry for entry in entries if entry.key != key]
        if key != "content-length":
            self._entries.insert(position, _new_entry(canonical, value))

    def remove(self, name: str) -> None:
        key = _key(name)
        self._entries = [entry for entry in self._materialise() if entry.key != key]

    # the usual fields ---------------------------------------------------------------------------

    @property
    def via(self) -> list[Any]:
        return self.get_all("Via")

    @property
    def from_header(self) -> Any:
        return self.get("From")

    @property
    def to_header(self) -> Any:
        return self.get("To")

    @property
    def call_id(self) -> str | None:
        header = self.get("Call-ID")
        return None if header is None else header.call_id

    @property
    def cseq(self) -> Any:
        return self.get("CSeq")

    @property
    def content_type(self) -> Any:
        return self.get("Content-Type")

    # serialising --------------------------------------------------------------------------------

    @abstractmethod
    def _start_line(self) -> str: ...

    @abstractmethod
    def _snapshot(self) -> tuple[Any, ...]: ...

    def to_bytes(self) -> bytes:
        received = self._received
        if received is not None:
            data, length, snapshot = received
            if snapshot == self._snapshot() and _serialises_verbatim(data, length):
                return data if length == len(data) else bytes(data[:length])
            self._received = None  # changed, or not in the form written below: do not check again
        entries = self._entries if self._entries is not None else self._materialise()
        lines = [self._start_line()]
        lines.extend(f"{entry.name}: {entry.text()}" for entry in entries)
        lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode(_ENCODING, "surrogateescape") + self.body

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def copy_headers_from(self, other: SIPMessage, *names: str) -> None:
        """Append every field of ``other`` named in ``names``, in ``other``'s order."""
        wanted = {_key(name) for name in names}
        entries = self._materialise()
        if other._entries is None:
            assert other._scanned is not None
            entries.extend(_Entry(n, v) for n, v in other._scanned.headers if _key(n) in wanted)
            return
        for entry in other._entries:
            if entry.key in wanted:
                entries.append(_Entry(entry.name, entry.raw, entry.parsed))


class SIPRequest(SIPMessage):
    """A request: ``method``, ``request_uri`` (text) and ``uri`` (parsed, lazily)."""

    __slots__ = ("_uri", "method", "request_uri")

    def __init__(
        self, method: str, uri: Any, headers: Iterable[tuple[str, Any]] = (), body: bytes = b""
    ) -> None:
        super().__init__(headers, body)
        self.method = method
        if isinstance(uri, str):
            self.request_uri, self._uri = uri, None
        else:
            self.request_uri, self._uri = str(uri), uri

    @property
    def uri(self) -> Any:
        """The Request-URI as a FrozenSIPURI (sip/sips) or AbsoluteURI; SIPParseError if malformed."""
        if self._uri is None:
            text = self.request_uri
            scheme = text.partition(":")[0].lower()
            self._uri = FrozenSIPURI.parse(text) if scheme in ("sip", "sips") else AbsoluteURI.parse(text)
        return self._uri

    def _start_line(self) -> str:
        return f"{self.method} {self.request_uri} SIP/2.0"

    def _snapshot(self) -> tuple[Any, ...]:
        return (self.method, self.request_uri, self.body)

    def __repr__(self) -> str:
        return f"<SIPRequest {self.method} {self.request_uri}>"


class SIPResponse(SIPMessage):
    """A response: ``code`` and ``reason``."""

    __slots__ = ("code", "reason")

    def __init__(
        self, code: int, reason: str | None = None, headers: Iterable[tuple[str, Any]] = (), body: bytes = b""
    ) -> None:
        super().__init__(headers, body)
        if not 100 <= code <= 699:
            raise ValueError(f"status code {code} is not in 100..699")
        self.code = code
        self.reason = reason_phrase(code) if reason is None else reason

    @property
    def status_code(self) -> int:
        return self.code

    def _start_line(self) -> str:
        return f"SIP/2.0 {self.code} {self.reason}"

    def _snapshot(self) -> tuple[Any, ...]:
        return (self.code, self.reason, self.body)

    def __repr__(self) -> str:
        return f"<SIPResponse {self.code} {self.reason}>"


def from_scanned(scanned: ScannedMessage) -> SIPRequest | SIPResponse:
    """A message from the scanner's output; header values stay unparsed until asked for."""
    message: SIPRequest | SIPResponse
    if scanned.is_request:
        message = SIPRequest.__new__(SIPRequest)
        message.method = scanned.method or ""
        message.request_uri = scanned.request_uri or ""
        message._uri = None
    else:
        message = SIPResponse.__new__(SIPResponse)
        message.code = scanned.status_code or 0
        message.reason = scanned.reason or ""
    message.body = scanned.body
    message._entries = None
    message._scanned = scanned
    message._cache = {}
    message._received = (scanned.raw, len(scanned), message._snapshot())
    return message


def parse_message(data: bytes, *, max_size: int = 65535) -> SIPRequest | SIPResponse:
    """Parse one complete message (a datagram); raises SIPParseError (a ValueError) when malformed."""
    from sipsimple.core.sip._scanner import SIPScanError

    try:
        return from_scanned(scan(data, max_size=max_size))
    except SIPScanError as e:
        raise SIPParseError(str(e)) from None


# builders (RFC 3261) -----------------------------------------------------------------------------


def make_response(
    request: SIPRequest,
    code: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, Any]] = (),
    body: bytes = b"",
) -> SIPResponse:
    """A response to ``request`` (§8.2.6.2): Via, From, To, Call-ID and CSeq copied.

    ``to_tag`` is added to the To header when it has none (not for 100 Trying, which must not
    create a dialog).
    """
    response = SIPResponse(code, reason)
    response.copy_headers_from(request, "Via", "From")
    to = request.get("To") if to_tag is not None and code != 100 else None
    if to is not None and to.tag is None:
        to = ToHeader.new(to)
        to.tag = to_tag
        response.add("To", to)
    else:
        response.copy_headers_from(request, "To")
    response.copy_headers_from(request, "Call-ID", "CSeq")
    for name, value in headers:
        response.add(name, value)
    response.body = body
    return response


def make_ack(invite: SIPRequest, response: SIPResponse) -> SIPRequest:
    """The ACK for a non-2xx final response to ``invite`` (§17.1.1.3), sent by the transaction."""
    ack = SIPRequest("ACK", invite.request_uri)
    top_via = invite.get("Via")
    ack.add("Via", [top_via] if top_via is not None else [])
    ack.copy_headers_from(invite, "Max-Forwards", "From")
    ack.copy_headers_from(response, "To")
    ack.copy_headers_from(invite, "Call-ID")
    cseq = invite.get("CSeq")
    ack.add("CSeq", CSeqHeader(cseq.number, "ACK"))
    ack.copy_headers_from(invite, "Route")
    return ack


def make_cancel(invite: SIPRequest) -> SIPRequest:
    """A CANCEL for ``invite`` (§9.1): same Request-URI, top Via, From, To, Call-ID and Route."""
    cancel = SIPRequest("CANCEL", invite.request_uri)
    top_via = invite.get("Via")
    cancel.add("Via", [top_via] if top_via is not None else [])
    if "Max-Forwards" in invite:
        cancel.copy_headers_from(invite, "Max-Forwards")
    else:
        cancel.add("Max-Forwards", MaxForwardsHeader(70))
    cancel.copy_headers_from(invite, "From", "To", "Call-ID")
    cseq = invite.get("CSeq")
    cancel.add("CSeq", CSeqHeader(cseq.number, "CANCEL"))
    cancel.copy_headers_from(invite, "Route")
    return cancel
