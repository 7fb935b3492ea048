"""Headers whose value is an address: From, To, Contact, Route, Record-Route, Refer-To.

All of them are ``( name-addr / addr-spec ) *(SEMI param)`` (RFC 3261 §20.10, §20.20, §20.30,
§20.34, §20.39; RFC 3515 §2.1) and share one parser and one serialiser. They serialise in the
name-addr form (``<uri>``), which is always allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from .._grammar import fail, format_params, number_check, parse_params, split_list
from ..uri import SIPURI, AbsoluteURI, FrozenSIPURI, parse_any_uri
from ._base import (
    URI,
    BaseHeader,
    ListHeader,
    Param,
    ParamCheck,
    Parameters,
    _Frozen,
    _Mutable,
    format_name_addr,
    int_param,
    parse_name_addr,
    text_param,
)

__all__ = [
    "ContactHeader",
    "FromHeader",
    "FrozenContactHeader",
    "FrozenFromHeader",
    "FrozenRecordRouteHeader",
    "FrozenReferToHeader",
    "FrozenRouteHeader",
    "FrozenToHeader",
    "RecordRouteHeader",
    "ReferToHeader",
    "RouteHeader",
    "ToHeader",
]

_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")


def _check_q(value: str | None, source: str) -> None:
    if value is None or _QVALUE.fullmatch(value) is None:
        fail("bad q parameter", source)


def _float_param(value: str | None) -> float | None:
    return None if value is None else float(value)


def _format_q(value: float) -> str:
    if not 0 <= value <= 1:
        raise ValueError(f"q must be between 0 and 1: {value}")
    return f"{value:.3f}".rstrip("0").rstrip(".")


class _AddressHeader(BaseHeader):
    _fields = ("uri", "display_name", "parameters")
    __slots__ = _fields

    uri: Any
    display_name: str | None
    parameters: Parameters

    def __init__(
        self, uri: URI, display_name: str | None = None, parameters: Parameters | None = None
    ) -> None:
        self._assign(uri, display_name, parameters or {})

    @classmethod
    def parse(cls, value: str) -> Self:
        """Parse the header value (what follows ``Name:``)."""
        value = value.strip(" \t")
        display_name, uri_text, end = parse_name_addr(value)
        uri = parse_any_uri(uri_text, cls.frozen)
        params = parse_params(value, end)
        cls._check_params(params, value)
        return cls._make(uri, display_name, params)

    @property
    def body(self) -> str:
        return format_name_addr(self.display_name, self.uri) + format_params(self.parameters)


class _FromToBase(_AddressHeader):
    __slots__ = ()
    tag = Param("tag", text_param)


class _FromBase(_FromToBase):
    __slots__ = ()
    name = "From"


class FromHeader(_Mutable, _FromBase):
    """``FromHeader(uri, display_name=None, parameters=None)`` with a ``tag`` property."""

    __slots__ = ()
    uri: SIPURI | AbsoluteURI
    parameters: dict[str, str | None]


class FrozenFromHeader(_Frozen, _FromBase):
    __slots__ = ()
    uri: FrozenSIPURI | AbsoluteURI


class _ToBase(_FromToBase):
    __slots__ = ()
    name = "To"


class ToHeader(_Mutable, _ToBase):
    """``ToHeader(uri, display_name=None, parameters=None)`` with a ``tag`` property."""

    __slots__ = ()
    uri: SIPURI | AbsoluteURI
    parameters: dict[str, str | None]


class FrozenToHeader(_Frozen, _ToBase):
    __slots__ = ()
    uri: FrozenSIPURI | AbsoluteURI


class _ContactBase(_AddressHeader, ListHeader):
    """A Contact value; ``uri`` None is the ``*`` wildcard (RFC 3261 §10.2.2)."""

    __slots__ = ()
    name = "Contact"
    _param_checks: ClassVar[Mapping[str, ParamCheck]] = {
        "expires": number_check("expires parameter"),
        "q": _check_q,
    }

    expires = Param("expires", int_param)
    q = Param("q", _float_param, _format_q)

    def __init__(
        self, uri: URI | None, display_name: str | None = None, parameters: Parameters | None = None
    ) -> None:
        if uri is None and (display_name is not None or parameters):
            raise ValueError("the wildcard Contact ('*') has no display name or parameters")
        self._assign(uri, display_name, parameters or {})

    @property
    def wildcard(self) -> bool:
        """True for ``Contact: *``."""
        return self.uri is None

    @classmethod
    def parse(cls, value: str) -> Self:
        if value.strip(" \t") == "*":
            return cls._make(None, None, {})
        return super().parse(value)

    @classmethod
    def parse_list(cls, value: str) -> list[Self]:
        """The contacts of a Contact value; ``*`` must be alone."""
        contacts = [cls.parse(item) for item in split_list(value, cls.name)]
        if len(contacts) > 1 and any(contact.uri is None for contact in contacts):
            fail("the wildcard Contact must be alone", value)
        return contacts

    @property
    def body(self) -> str:
        if self.uri is None:
            return "*" + format_params(self.parameters)
        return super().body


class ContactHeader(_Mutable, _ContactBase):
    """``ContactHeader(uri, display_name=None, parameters=None)`` with ``expires`` and ``q``;
    ``ContactHeader(None)`` (or ``parse('*')``) is the wildcard, with ``wildcard`` True."""

    __slots__ = ()
    uri: SIPURI | AbsoluteURI | None
    parameters: dict[str, str | None]


class FrozenContactHeader(_Frozen, _ContactBase):
    __slots__ = ()
    uri: FrozenSIPURI | AbsoluteURI | None


class _RouteBase(_AddressHeader, ListHeader):
    __slots__ = ()
    name = "Route"


class RouteHeader(_Mutable, _RouteBase):
    """``RouteHeader(uri, display_name=None, parameters=None)``."""

    __slots__ = ()
    uri: SIPURI | AbsoluteURI
    parameters: dict[str, str | None]


class FrozenRouteHeader(_Frozen, _RouteBase):
    __slots__ = ()
    uri: FrozenSIPURI | AbsoluteURI


class _RecordRouteBase(_AddressHeader, ListHeader):
    __slots__ = ()
    name = "Record-Route"


class RecordRouteHeader(_Mutable, _RecordRouteBase):
    """``RecordRouteHeader(uri, display_name=None, parameters=None)``."""

    __slots__ = ()
    uri: SIPURI | AbsoluteURI
    parameters: dict[str, str | None]


class FrozenRecordRouteHeader(_Frozen, _RecordRouteBase):
    __slots__ = ()
    uri: FrozenSIPURI | AbsoluteURI


class _ReferToBase(_AddressHeader):
    __slots__ = ()
    name = "Refer-To"

    def __init__(
        self, uri: URI | str, parameters: Parameters | None = None, display_name: str | None = None
    ) -> None:
        if isinstance(uri, str):
            uri = parse_any_uri(uri, self.frozen)
        self._assign(uri, display_name, parameters or {})


class ReferToHeader(_Mutable, _ReferToBase):
    """``ReferToHeader(uri, parameters=None, display_name=None)``; ``uri`` may be given as text.
    A target with ``?Replaces=...`` keeps it in ``uri.headers`` (RFC 3515, RFC 3891)."""

    __slots__ = ()
    uri: SIPURI | AbsoluteURI
    parameters: dict[str, str | None]


class FrozenReferToHeader(_Frozen, _ReferToBase):
    __slots__ = ()
    uri: FrozenSIPURI | AbsoluteURI
