"""SIP header values and the header registry.

Every header class has a mutable and a ``Frozen...`` variant, a ``parse(value)`` classmethod for
the text after ``Name:``, a ``body`` (the serialised value) and a ``name``;
``str(header) == f"{header.name}: {header.body}"``. The list-capable ones also have
``parse_list(value)``.

``HEADER_TABLE`` has one row per header: canonical name -> (mutable class, frozen class,
is_list). ``parse_header(name, value)`` parses any header through it (unknown names give a
generic ``Header``; list headers give a list). Names come from the scanner's
``CANONICAL_HEADER_NAMES``/``COMPACT_FORMS``, so there is one table of names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar, overload

from .._grammar import FrozenDict, QuotedString, SIPParseError
from .._scanner import CANONICAL_HEADER_NAMES, COMPACT_FORMS
from ._address import (
    ContactHeader,
    FromHeader,
    FrozenContactHeader,
    FrozenFromHeader,
    FrozenRecordRouteHeader,
    FrozenReferToHeader,
    FrozenRouteHeader,
    FrozenToHeader,
    RecordRouteHeader,
    ReferToHeader,
    RouteHeader,
    ToHeader,
)
from ._base import BaseHeader, FrozenHeader, Header
from ._scalar import (
    CallIDHeader,
    ContentLengthHeader,
    CSeqHeader,
    ExpiresHeader,
    FrozenCallIDHeader,
    FrozenContentLengthHeader,
    FrozenCSeqHeader,
    FrozenExpiresHeader,
    FrozenMaxForwardsHeader,
    FrozenMinExpiresHeader,
    FrozenRetryAfterHeader,
    FrozenSubjectHeader,
    FrozenWarningHeader,
    MaxForwardsHeader,
    MinExpiresHeader,
    RetryAfterHeader,
    SubjectHeader,
    WarningHeader,
)
from ._tokens import (
    ContentTypeHeader,
    EventHeader,
    FrozenContentTypeHeader,
    FrozenEventHeader,
    FrozenReasonHeader,
    FrozenReplacesHeader,
    FrozenSubscriptionStateHeader,
    ReasonHeader,
    ReplacesHeader,
    SubscriptionStateHeader,
)
from ._via import FrozenViaHeader, ViaHeader

try:  # C parsers for the hot frozen headers; without the extension the Python parsers do it all
    from .._fastparse import FAST_PARSERS as _FAST_PARSERS
except ImportError:
    _FAST_PARSERS = {}

__all__ = [
    "HEADER_TABLE",
    "BaseHeader",
    "CSeqHeader",
    "CallIDHeader",
    "ContactHeader",
    "ContentLengthHeader",
    "ContentTypeHeader",
    "EventHeader",
    "ExpiresHeader",
    "FromHeader",
    "FrozenCSeqHeader",
    "FrozenCallIDHeader",
    "FrozenContactHeader",
    "FrozenContentLengthHeader",
    "FrozenContentTypeHeader",
    "FrozenDict",
    "FrozenEventHeader",
    "FrozenExpiresHeader",
    "FrozenFromHeader",
    "FrozenHeader",
    "FrozenMaxForwardsHeader",
    "FrozenMinExpiresHeader",
    "FrozenReasonHeader",
    "FrozenRecordRouteHeader",
    "FrozenReferToHeader",
    "FrozenReplacesHeader",
    "FrozenRetryAfterHeader",
    "FrozenRouteHeader",
    "FrozenSubjectHeader",
    "FrozenSubscriptionStateHeader",
    "FrozenToHeader",
    "FrozenViaHeader",
    "FrozenWarningHeader",
    "Header",
    "HeaderRow",
    "MaxForwardsHeader",
    "MinExpiresHeader",
    "QuotedString",
    "ReasonHeader",
    "RecordRouteHeader",
    "ReferToHeader",
    "ReplacesHeader",
    "RetryAfterHeader",
    "RouteHeader",
    "SIPParseError",
    "SubjectHeader",
    "SubscriptionStateHeader",
    "ToHeader",
    "ViaHeader",
    "WarningHeader",
    "canonical_name",
    "frozen",
    "mutable",
    "parse_header",
]


class HeaderRow(NamedTuple):
    mutable: type[BaseHeader]
    frozen: type[BaseHeader]
    is_list: bool


def _rows(*rows: HeaderRow) -> dict[str, HeaderRow]:
    table = {}
    for row in rows:
        name = row.mutable.name
        if CANONICAL_HEADER_NAMES.get(name.lower()) != name or row.frozen.name != name:
            raise AssertionError(f"{name} is not a canonical header name")
        table[name] = row
    return table


#: canonical name -> (mutable class, frozen class, is_list): the one list of typed headers.
HEADER_TABLE: dict[str, HeaderRow] = _rows(
    HeaderRow(CallIDHeader, FrozenCallIDHeader, False),
    HeaderRow(ContactHeader, FrozenContactHeader, True),
    HeaderRow(ContentLengthHeader, FrozenContentLengthHeader, False),
    HeaderRow(ContentTypeHeader, FrozenContentTypeHeader, False),
    HeaderRow(CSeqHeader, FrozenCSeqHeader, False),
    HeaderRow(EventHeader, FrozenEventHeader, False),
    HeaderRow(ExpiresHeader, FrozenExpiresHeader, False),
    HeaderRow(FromHeader, FrozenFromHeader, False),
    HeaderRow(MaxForwardsHeader, FrozenMaxForwardsHeader, False),
    HeaderRow(MinExpiresHeader, FrozenMinExpiresHeader, False),
    HeaderRow(ReasonHeader, FrozenReasonHeader, True),
    HeaderRow(RecordRouteHeader, FrozenRecordRouteHeader, True),
    HeaderRow(ReferToHeader, FrozenReferToHeader, False),
    HeaderRow(ReplacesHeader, FrozenReplacesHeader, False),
    HeaderRow(RetryAfterHeader, FrozenRetryAfterHeader, False),
    HeaderRow(RouteHeader, FrozenRouteHeader, True),
    HeaderRow(SubjectHeader, FrozenSubjectHeader, False),
    HeaderRow(SubscriptionStateHeader, FrozenSubscriptionStateHeader, False),
    HeaderRow(ToHeader, FrozenToHeader, False),
    HeaderRow(ViaHeader, FrozenViaHeader, True),
    HeaderRow(WarningHeader, FrozenWarningHeader, True),
)

_PAIRS = [(row.mutable, row.frozen) for row in HEADER_TABLE.values()] + [(Header, FrozenHeader)]
_FROZEN_OF: dict[type[BaseHeader], type[BaseHeader]] = {m: f for m, f in _PAIRS}
_MUTABLE_OF: dict[type[BaseHeader], type[BaseHeader]] = {f: m for m, f in _PAIRS}


def canonical_name(name: str) -> str:
    """The canonical spelling of a header name (compact forms expanded); unknown names as given."""
    lowered = name.lower()
    if len(lowered) == 1:
        return COMPACT_FORMS.get(lowered, name)
    return CANONICAL_HEADER_NAMES.get(lowered, name)


def parse_header(name: str, value: str, frozen: bool = False) -> Any:
    """Parse ``value`` as the header ``name`` (any case or compact form).

    Returns a header object, or a list of them for the list headers of ``HEADER_TABLE``; a name
    not in the table gives a generic (Frozen)Header. Bad values raise SIPParseError.
    """
    canonical = name if name in _FAST_PARSERS else canonical_name(name)
    if frozen and canonical in _FAST_PARSERS:
        return _FAST_PARSERS[canonical](value)
    row = HEADER_TABLE.get(canonical)
    if row is None:
        return (FrozenHeader if frozen else Header).parse(value, canonical)
    cls: Any = row.frozen if frozen else row.mutable
    return cls.parse_list(value) if row.is_list else cls.parse(value)


_H = TypeVar("_H", bound=BaseHeader)


@overload
def frozen(header: BaseHeader) -> BaseHeader: ...
@overload
def frozen(header: Sequence[BaseHeader]) -> list[BaseHeader]: ...
def frozen(header: BaseHeader | Sequence[BaseHeader]) -> BaseHeader | list[BaseHeader]:
    """The frozen variant of a header (itself if already frozen), or of each header of a list."""
    if not isinstance(header, BaseHeader):
        return [frozen(item) for item in header]
    if header.frozen:
        return header
    return _FROZEN_OF[type(header)].new(header)


@overload
def mutable(header: BaseHeader) -> BaseHeader: ...
@overload
def mutable(header: Sequence[BaseHeader]) -> list[BaseHeader]: ...
def mutable(header: BaseHeader | Sequence[BaseHeader]) -> BaseHeader | list[BaseHeader]:
    """A mutable copy of a header (a new object even when it is already mutable), or of a list."""
    if not isinstance(header, BaseHeader):
        return [mutable(item) for item in header]
    cls = type(header) if not header.frozen else _MUTABLE_OF[type(header)]
    return cls.new(header)
