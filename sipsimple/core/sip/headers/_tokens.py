"""Headers of the shape ``head *(SEMI generic-param)``: Event, Subscription-State, Reason,
Content-Type and Replaces.

Each family names its head field and gives the pattern that matches it; parsing and
serialising are shared (``_HeadParamsHeader``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from .._grammar import TOKEN_CHARS, fail, format_params, number_check, parse_params
from ._base import (
    BaseHeader,
    ListHeader,
    Param,
    ParamCheck,
    Parameters,
    _Frozen,
    _Mutable,
    flag_param,
    int_param,
    no_value,
    text_param,
)

__all__ = [
    "ContentTypeHeader",
    "EventHeader",
    "FrozenContentTypeHeader",
    "FrozenEventHeader",
    "FrozenReasonHeader",
    "FrozenReplacesHeader",
    "FrozenSubscriptionStateHeader",
    "ReasonHeader",
    "ReplacesHeader",
    "SubscriptionStateHeader",
]

_TOKEN = f"[{TOKEN_CHARS}]+"
# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" / "<" / ">" /
#           ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}")       (RFC 3261 §25.1, Call-ID)
_WORD = r"""[A-Za-z0-9\-.!%*_+`'~()<>:\\"/\[\]?{}]+"""
CALLID = re.compile(f"{_WORD}(?:@{_WORD})?")


class _HeadParamsHeader(BaseHeader):
    """``head *(SEMI generic-param)``; the first of ``_fields`` is the head."""

    __slots__ = ()
    _head: ClassVar[re.Pattern[str]]
    parameters: Parameters

    @classmethod
    def _head_value(cls, match: re.Match[str]) -> str:
        return match.group()

    @classmethod
    def parse(cls, value: str) -> Self:
        """Parse the header value (what follows ``Name:``)."""
        value = value.strip(" \t")
        match = cls._head.match(value)
        if match is None:
            fail(f"bad {cls.name} value", value)
        params = parse_params(value, match.end())
        cls._check_params(params, value)
        return cls._make(cls._head_value(match), params)

    @property
    def body(self) -> str:
        return f"{getattr(self, self._fields[0])}{format_params(self.parameters)}"


# Event (RFC 6665 §8.2.1): the package name and the id parameter compare exactly.


class _EventBase(_HeadParamsHeader):
    _fields = ("event", "parameters")
    __slots__ = _fields
    name = "Event"
    _head = re.compile(_TOKEN)
    event: str
    id = Param("id", text_param)

    def __init__(self, event: str, parameters: Parameters | None = None) -> None:
        self._assign(event, parameters or {})


class EventHeader(_Mutable, _EventBase):
    """``EventHeader(event, parameters=None)`` with an ``id`` property."""

    __slots__ = ()
    parameters: dict[str, str | None]


class FrozenEventHeader(_Frozen, _EventBase):
    __slots__ = ()


# Subscription-State (RFC 6665 §8.2.3)


class _SubscriptionStateBase(_HeadParamsHeader):
    _fields = ("state", "parameters")
    __slots__ = _fields
    name = "Subscription-State"
    _head = re.compile(_TOKEN)
    _param_checks: ClassVar[Mapping[str, ParamCheck]] = {
        "expires": number_check("expires parameter"),
        "retry-after": number_check("retry-after parameter"),
    }
    state: str
    reason = Param("reason", text_param)
    expires = Param("expires", int_param)
    retry_after = Param("retry-after", int_param)

    def __init__(self, state: str, parameters: Parameters | None = None) -> None:
        self._assign(state, parameters or {})


class SubscriptionStateHeader(_Mutable, _SubscriptionStateBase):
    """``SubscriptionStateHeader(state, parameters=None)`` with ``reason``, ``expires`` and
    ``retry_after`` properties."""

    __slots__ = ()
    parameters: dict[str, str | None]


class FrozenSubscriptionStateHeader(_Frozen, _SubscriptionStateBase):
    __slots__ = ()


# Reason (RFC 3326): protocol ("SIP", "Q.850", token) with cause and text


class _ReasonBase(_HeadParamsHeader, ListHeader):
    _fields = ("protocol", "parameters")
    __slots__ = _fields
    name = "Reason"
    _head = re.compile(_TOKEN)
    _param_checks: ClassVar[Mapping[str, ParamCheck]] = {"cause": number_check("cause parameter")}
    protocol: str
    cause = Param("cause", int_param)
    text = Param("text", text_param)

    def __init__(self, protocol: str, parameters: Parameters | None = None) -> None:
        self._assign(protocol, parameters or {})


class ReasonHeader(_Mutable, _ReasonBase):
    """``ReasonHeader(protocol, parameters=None)`` with ``cause`` and ``text`` properties."""

    __slots__ = ()
    parameters: dict[str, str | None]


class FrozenReasonHeader(_Frozen, _ReasonBase):
    __slots__ = ()


# Content-Type (RFC 3261 §20.15): type/subtype, lower case, and MIME parameters


class _ContentTypeBase(_HeadParamsHeader):
    _fields = ("content_type", "parameters")
    __slots__ = _fields
    name = "Content-Type"
    _head = re.compile(f"({_TOKEN})[ \\t]*/[ \\t]*({_TOKEN})")
    content_type: str

    def __init__(self, content_type: str, parameters: Parameters | None = None) -> None:
        self._assign(content_type.lower(), parameters or {})

    @classmethod
    def _head_value(cls, match: re.Match[str]) -> str:
        return f"{match.group(1)}/{match.group(2)}".lower()

    @classmethod
    def _check_params(cls, params: Mapping[str, str | None], source: str) -> None:
        if None in params.values():
            fail("a media type parameter needs a value", source)

    @property
    def type(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]


class ContentTypeHeader(_Mutable, _ContentTypeBase):
    """``ContentTypeHeader(content_type, parameters=None)``; ``content_type`` is 'type/subtype'
    in lower case, parameters are e.g. ``charset`` and ``boundary``."""

    __slots__ = ()
    parameters: dict[str, str | None]


class FrozenContentTypeHeader(_Frozen, _ContentTypeBase):
    __slots__ = ()


# Replaces (RFC 3891): callid;to-tag=..;from-tag=..[;early-only]. The tags live in ``parameters``
# (so their order is kept) and are also reachable as properties.


def _check_replaces(params: Mapping[str, Any], source: str) -> None:
    names = {name.lower() for name in params}
    for required in ("to-tag", "from-tag"):
        if required not in names:
            fail(f"Replaces without {required}", source)


class _ReplacesBase(_HeadParamsHeader):
    _fields = ("call_id", "parameters")
    __slots__ = _fields
    name = "Replaces"
    _head = CALLID
    call_id: str
    from_tag = Param("from-tag", text_param)
    to_tag = Param("to-tag", text_param)
    early_only = Param("early-only", flag_param, no_value, absent=False)

    def __init__(
        self,
        call_id: str,
        from_tag: str,
        to_tag: str,
        early_only: bool = False,
        parameters: Parameters | None = None,
    ) -> None:
        params: dict[str, str | None] = {"to-tag": to_tag, "from-tag": from_tag}
        if early_only:
            params["early-only"] = None
        params.update(parameters or {})
        self._assign(call_id, params)

    @classmethod
    def _check_params(cls, params: Mapping[str, str | None], source: str) -> None:
        _check_replaces(params, source)


class ReplacesHeader(_Mutable, _ReplacesBase):
    """``ReplacesHeader(call_id, from_tag, to_tag, early_only=False, parameters=None)``.
    ``parameters`` holds every parameter, the tags and ``early-only`` included."""

    __slots__ = ()
    parameters: dict[str, str | None]


class FrozenReplacesHeader(_Frozen, _ReplacesBase):
    __slots__ = ()
