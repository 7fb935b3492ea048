"""Reading and writing the header fields a dialog cares about.

Reading a field of a received message can meet the peer's mistakes (a missing or malformed
CSeq, From or To): they become RemoteProtocolError, which the caller answers with 400 or drops.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.headers import BaseHeader, ContentTypeHeader, FrozenContactHeader, canonical_name
from sipsimple.core.sip.transaction import LocalProtocolError, RemoteProtocolError
from sipsimple.core.sip.uri import AbsoluteURI, BaseSIPURI, FrozenSIPURI

__all__ = ["Headers", "add_extra", "contact_header", "cseq_of", "identity", "is_sips", "tag_of"]

#: Headers a Dialog writes itself; ``extra_headers`` may not contain them.
_OWNED_HEADERS = frozenset(
    {"Via", "Max-Forwards", "Route", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Type"}
)

#: Extra header fields: (name, value) pairs as SIPMessage.add takes them, or header objects.
Headers = Iterable[tuple[str, Any] | BaseHeader]


def cseq_of(message: Any) -> Any:
    try:
        cseq = message.cseq
    except SIPParseError as e:
        raise RemoteProtocolError(f"malformed CSeq: {e}") from None
    if cseq is None:
        raise RemoteProtocolError("the message has no CSeq")
    return cseq


def tag_of(message: Any, name: str) -> str | None:
    try:
        header = message.get(name)
    except SIPParseError as e:
        raise RemoteProtocolError(f"malformed {name}: {e}") from None
    if header is None:
        raise RemoteProtocolError(f"the message has no {name}")
    tag: str | None = header.tag
    return tag


def identity(header: Any, cls: type[Any], tag: str | None) -> Any:
    """``header`` (a From or To value) as a frozen ``cls`` with its tag replaced by ``tag``."""
    parameters = {name: value for name, value in header.parameters.items() if name.lower() != "tag"}
    if tag:
        parameters["tag"] = tag
    return cls(header.uri, header.display_name, parameters)


def contact_header(contact: Any) -> FrozenContactHeader:
    if isinstance(contact, BaseHeader):
        return FrozenContactHeader.new(contact)
    if isinstance(contact, BaseSIPURI):
        return FrozenContactHeader(FrozenSIPURI.new(contact))
    if isinstance(contact, AbsoluteURI):
        return FrozenContactHeader(contact)
    raise TypeError(f"a local contact is a Contact header or a URI, not {contact!r}")


def is_sips(uri: Any) -> bool:
    return isinstance(uri, BaseSIPURI) and uri.secure


def add_extra(
    message: Any, extra_headers: Headers, body: bytes, content_type: str | BaseHeader | None
) -> None:
    for item in extra_headers:
        name, value = (item.name, item) if isinstance(item, BaseHeader) else item
        if canonical_name(name) in _OWNED_HEADERS:
            raise LocalProtocolError(f"the dialog writes the {canonical_name(name)} header itself")
        message.add(name, value)
    if content_type is not None:
        header = ContentTypeHeader.parse(content_type) if isinstance(content_type, str) else content_type
        message.add("Content-Type", header)
    elif body:
        raise LocalProtocolError("a body needs a content type (RFC 3261 §20.15)")
    message.body = bytes(body)
