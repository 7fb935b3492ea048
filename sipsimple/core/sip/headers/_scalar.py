"""Headers with a fixed small shape: CSeq, Call-ID, Subject, Warning, Retry-After and the integer
headers Content-Length, Max-Forwards, Expires and Min-Expires (RFC 3261 §20)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar, Self

from .._grammar import (
    MAX_UINT32,
    QUOTED_BODY,
    TOKEN_CHARS,
    fail,
    format_comment,
    format_params,
    number_check,
    parse_comment,
    parse_delta_seconds,
    parse_params,
    quote,
    skip_lws,
    unquote_pairs,
)
from ._base import BaseHeader, ListHeader, Param, ParamCheck, Parameters, _Frozen, _Mutable, int_param
from ._tokens import CALLID

__all__ = [
    "CSeqHeader",
    "CallIDHeader",
    "ContentLengthHeader",
    "ExpiresHeader",
    "FrozenCSeqHeader",
    "FrozenCallIDHeader",
    "FrozenContentLengthHeader",
    "FrozenExpiresHeader",
    "FrozenMaxForwardsHeader",
    "FrozenMinExpiresHeader",
    "FrozenRetryAfterHeader",
    "FrozenSubjectHeader",
    "FrozenWarningHeader",
    "MaxForwardsHeader",
    "MinExpiresHeader",
    "RetryAfterHeader",
    "SubjectHeader",
    "WarningHeader",
]

_CSEQ = re.compile(f"([0-9]+)[ \\t]+([{TOKEN_CHARS}]+)")
_WARNING = re.compile(f'([0-9]{{3}})[ \\t]+([^ \\t",;\\r\\n]+)[ \\t]+"({QUOTED_BODY})"')
_DIGITS = re.compile(r"[0-9]+")


def _no_crlf(value: str) -> str:
    if "\r" in value or "\n" in value:
        fail("CR or LF in a header value", value)
    return value.strip(" \t")


# CSeq (§20.16)


class _CSeqBase(BaseHeader):
    _fields = ("number", "method")
    __slots__ = _fields
    name = "CSeq"
    number: int
    method: str

    def __init__(self, number: int, method: str) -> None:
        self._assign(number, method)

    @classmethod
    def parse(cls, value: str) -> Self:
        """``number method``; the number is at most 2**32-1 (leading zeros allowed)."""
        match = _CSEQ.fullmatch(value.strip(" \t"))
        if match is None:
            fail("bad CSeq value", value)
        return cls._make(parse_delta_seconds(match.group(1), "CSeq number", source=value), match.group(2))

    @property
    def body(self) -> str:
        return f"{self.number} {self.method}"


class CSeqHeader(_Mutable, _CSeqBase):
    """``CSeqHeader(number, method)``."""

    __slots__ = ()


class FrozenCSeqHeader(_Frozen, _CSeqBase):
    __slots__ = ()


# Call-ID (§20.8)


class _CallIDBase(BaseHeader):
    _fields = ("call_id",)
    __slots__ = _fields
    name = "Call-ID"
    call_id: str

    def __init__(self, call_id: str) -> None:
        self._assign(call_id)

    @classmethod
    def parse(cls, value: str) -> Self:
        """``word ["@" word]``."""
        value = value.strip(" \t")
        if CALLID.fullmatch(value) is None:
            fail("bad Call-ID", value)
        return cls._make(value)

    @property
    def body(self) -> str:
        return self.call_id


class CallIDHeader(_Mutable, _CallIDBase):
    """``CallIDHeader(call_id)``; the value compares exactly."""

    __slots__ = ()


class FrozenCallIDHeader(_Frozen, _CallIDBase):
    __slots__ = ()


# Subject (§20.36)


class _SubjectBase(BaseHeader):
    _fields = ("subject",)
    __slots__ = _fields
    name = "Subject"
    subject: str

    def __init__(self, subject: str) -> None:
        self._assign(subject)

    @classmethod
    def parse(cls, value: str) -> Self:
        """Any text (possibly empty), trimmed of SP/HTAB."""
        return cls._make(_no_crlf(value))

    @property
    def body(self) -> str:
        return self.subject


class SubjectHeader(_Mutable, _SubjectBase):
    """``SubjectHeader(subject)``."""

    __slots__ = ()


class FrozenSubjectHeader(_Frozen, _SubjectBase):
    __slots__ = ()


# Warning (§20.43): 3DIGIT SP agent SP quoted-string


class _WarningBase(ListHeader):
    _fields = ("code", "agent", "text")
    __slots__ = _fields
    name = "Warning"
    code: int
    agent: str
    text: str

    def __init__(self, code: int, agent: str, text: str) -> None:
        if not 0 <= code <= 999:
            raise ValueError(f"a warning code has three digits: {code}")
        self._assign(code, agent, text)

    @classmethod
    def parse(cls, value: str) -> Self:
        """One warning-value (use ``parse_list`` for a comma-separated value)."""
        match = _WARNING.fullmatch(value.strip(" \t"))
        if match is None:
            fail("bad Warning value", value)
        code, agent, text = match.groups()
        return cls._make(int(code), agent, unquote_pairs(text))

    @property
    def body(self) -> str:
        return f"{self.code:03d} {self.agent} {quote(self.text)}"


class WarningHeader(_Mutable, _WarningBase):
    """``WarningHeader(code, agent, text)``."""

    __slots__ = ()


class FrozenWarningHeader(_Frozen, _WarningBase):
    __slots__ = ()


# Retry-After (§20.33): delta-seconds [comment] *(SEMI retry-param)


class _RetryAfterBase(BaseHeader):
    _fields = ("seconds", "comment", "parameters")
    __slots__ = _fields
    name = "Retry-After"
    _param_checks: ClassVar[Mapping[str, ParamCheck]] = {"duration": number_check("duration parameter")}
    seconds: int
    comment: str | None
    parameters: Parameters
    duration = Param("duration", int_param)

    def __init__(
        self, seconds: int, comment: str | None = None, parameters: Parameters | None = None
    ) -> None:
        self._assign(seconds, comment, parameters or {})

    @classmethod
    def parse(cls, value: str) -> Self:
        """``seconds [(comment)] *(;param)``; the comment is kept without its parentheses."""
        value = value.strip(" \t")
        digits = _DIGITS.match(value)
        if digits is None:
            fail("Retry-After must start with a number", value)
        seconds = parse_delta_seconds(digits.group(), "Retry-After", source=value)
        pos = skip_lws(value, digits.end())
        comment = None
        if value.startswith("(", pos):
            comment, pos = parse_comment(value, pos)
        params = parse_params(value, pos)
        cls._check_params(params, value)
        return cls._make(seconds, comment, params)

    @property
    def body(self) -> str:
        comment = "" if self.comment is None else " " + format_comment(self.comment)
        return f"{self.seconds}{comment}{format_params(self.parameters)}"


class RetryAfterHeader(_Mutable, _RetryAfterBase):
    """``RetryAfterHeader(seconds, comment=None, parameters=None)`` with a ``duration`` property."""

    __slots__ = ()
    parameters: dict[str, str | None]


class FrozenRetryAfterHeader(_Frozen, _RetryAfterBase):
    __slots__ = ()


# Integer headers


class _IntegerBase(BaseHeader):
    """A header whose value is one non-negative integer no larger than ``_maximum``."""

    _fields = ("value",)
    __slots__ = _fields
    _maximum: ClassVar[int] = MAX_UINT32
    value: int

    def __init__(self, value: int) -> None:
        if not 0 <= value <= self._maximum:
            raise ValueError(f"{self.name} must be between 0 and {self._maximum}: {value}")
        self._assign(value)

    @classmethod
    def parse(cls, value: str) -> Self:
        return cls._make(parse_delta_seconds(value.strip(" \t"), cls.name, cls._maximum))

    @property
    def body(self) -> str:
        return str(self.value)

    def __int__(self) -> int:
        return self.value


class _ContentLengthBase(_IntegerBase):
    __slots__ = ()
    name = "Content-Length"


class ContentLengthHeader(_Mutable, _ContentLengthBase):
    """``ContentLengthHeader(value)``."""

    __slots__ = ()


class FrozenContentLengthHeader(_Frozen, _ContentLengthBase):
    __slots__ = ()


class _MaxForwardsBase(_IntegerBase):
    __slots__ = ()
    name = "Max-Forwards"
    _maximum = 255


class MaxForwardsHeader(_Mutable, _MaxForwardsBase):
    """``MaxForwardsHeader(value)``, 0 to 255."""

    __slots__ = ()


class FrozenMaxForwardsHeader(_Frozen, _MaxForwardsBase):
    __slots__ = ()


class _ExpiresBase(_IntegerBase):
    __slots__ = ()
    name = "Expires"


class ExpiresHeader(_Mutable, _ExpiresBase):
    """``ExpiresHeader(value)`` in seconds."""

    __slots__ = ()


class FrozenExpiresHeader(_Frozen, _ExpiresBase):
    __slots__ = ()


class _MinExpiresBase(_IntegerBase):
    __slots__ = ()
    name = "Min-Expires"


class MinExpiresHeader(_Mutable, _MinExpiresBase):
    """``MinExpiresHeader(value)`` in seconds."""

    __slots__ = ()


class FrozenMinExpiresHeader(_Frozen, _MinExpiresBase):
    __slots__ = ()
