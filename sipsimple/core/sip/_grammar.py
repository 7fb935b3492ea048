"""Low-level pieces of the SIP grammar (RFC 3261 §25) shared by the URI and header parsers.

Everything here works on ``str`` values that the scanner has already unfolded: tokens, quoted
strings with quoted-pairs, comments, generic ``;name=value`` parameters, lists split at top-level
commas, and ``%HH`` escaping for the parts of a SIP URI. The regular expressions are written so
that no two branches can match the same text, which keeps every match linear in the input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar
from urllib.parse import unquote

__all__ = [
    "FrozenDict",
    "QuotedString",
    "SIPParseError",
    "find_key",
    "format_comment",
    "format_params",
    "format_value",
    "is_token",
    "number_check",
    "parse_comment",
    "parse_delta_seconds",
    "parse_params",
    "quote",
    "split_list",
]

_K = TypeVar("_K")
_V = TypeVar("_V")

#: The largest value of delta-seconds, CSeq numbers and Content-Length (RFC 3261 §8.1.1.5, §20.14).
MAX_UINT32 = 2**32 - 1


class SIPParseError(ValueError):
    """A URI or header value does not follow its grammar.

    ``reason`` says what is wrong, ``text`` is the value being parsed and ``position`` the offset in
    it where the problem was found (None when it is the value as a whole).
    """

    def __init__(self, reason: str, text: str | None = None, position: int | None = None) -> None:
        self.reason = reason
        self.text = text
        self.position = position
        message = reason
        if text is not None:
            shown = text if len(text) <= 80 else text[:77] + "..."
            where = f" at offset {position}" if position is not None else ""
            message = f"{reason}{where} in {shown!r}"
        super().__init__(message)


def fail(reason: str, text: str | None = None, position: int | None = None) -> NoReturn:
    raise SIPParseError(reason, text, position)


class QuotedString(str):
    """A ``str`` that was written as a quoted-string and is written back the same way.

    It compares and hashes like the plain text; only serialisation looks at the type.
    """

    __slots__ = ()


class FrozenDict(dict[_K, _V]):
    """An insertion-ordered, immutable, hashable ``dict`` (for the parameters of frozen objects)."""

    __slots__ = ("_hash",)
    _hash: int

    def _immutable(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is immutable")

    __setitem__ = __delitem__ = _immutable
    clear = pop = popitem = setdefault = update = _immutable
    __ior__ = _immutable

    def __hash__(self) -> int:  # type: ignore[override]
        try:
            return self._hash
        except AttributeError:
            value = hash(frozenset(self.items()))
            self._hash = value
            return value

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (dict(self),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"

    def copy(self) -> FrozenDict[_K, _V]:
        return self


# ---------------------------------------------------------------------------------------------
# Character classes (inside [...]) from RFC 3261 §25.1.

TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
USER_CHARS = _UNRESERVED + r"&=+$,;?/"
PASSWORD_CHARS = _UNRESERVED + r"&=+$,"
PARAM_CHARS = _UNRESERVED + r"\[\]/:&+$"
HEADER_CHARS = _UNRESERVED + r"\[\]/?:+$"
#: An unquoted generic-param value: token or host (a host adds ':' '[' ']' for IPv6).
_VALUE_CHARS = TOKEN_CHARS + r":\[\]"
#: The body of a quoted-string, without its quotes: qdtext and quoted-pairs, never CR or LF.
QUOTED_BODY = r'[^"\\\r\n]*(?:\\[^\r\n][^"\\\r\n]*)*'

_TOKEN = re.compile(f"[{TOKEN_CHARS}]+")
_VALUE = re.compile(f"[{_VALUE_CHARS}]+")
QUOTED = re.compile(f'"({QUOTED_BODY})"')
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_NEEDS_BACKSLASH = re.compile(r'[\\"\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
_LWS = re.compile(r"[ \t]*")
_PARAM = re.compile(
    f'[ \\t]*;[ \\t]*([{TOKEN_CHARS}]+)(?:[ \\t]*=[ \\t]*(?:([{_VALUE_CHARS}]+)|"({QUOTED_BODY})"))?[ \\t]*'
)
_LIST_SPECIAL = re.compile(r'[",<>\\]')
_COMMENT_SPECIAL = re.compile(r"[()\\\r\n]")
_DIGITS = re.compile(r"[0-9]+")


def is_token(text: str) -> bool:
    """True if ``text`` is a non-empty RFC 3261 token."""
    return _TOKEN.fullmatch(text) is not None


def skip_lws(text: str, pos: int) -> int:
    """The offset of the first character at or after ``pos`` that is not SP or HTAB."""
    match = _LWS.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def parse_delta_seconds(text: str, what: str, maximum: int = MAX_UINT32, source: str | None = None) -> int:
    """``1*DIGIT`` no larger than ``maximum``; leading zeros are allowed."""
    if _DIGITS.fullmatch(text) is None:
        fail(f"{what} is not a number", source or text)
    digits = text.lstrip("0")
    if len(digits) > len(str(maximum)) or (value := int(digits or "0")) > maximum:
        fail(f"{what} is larger than {maximum}", source or text)
    return value


def number_check(
    what: str, maximum: int = MAX_UINT32, flag: bool = False
) -> Callable[[str | None, str], None]:
    """A parameter check: the value is a number up to ``maximum`` (or absent, if ``flag``)."""

    def check(value: str | None, source: str) -> None:
        if value is not None or not flag:
            parse_delta_seconds(value or "", what, maximum, source)

    return check


# ---------------------------------------------------------------------------------------------
# Quoted strings and comments


def unquote_pairs(body: str) -> str:
    """Undo the quoted-pairs (``\\x`` -> ``x``) in the body of a quoted-string or comment."""
    return _QUOTED_PAIR.sub(r"\1", body) if "\\" in body else body


def quote(text: str) -> str:
    """``text`` as a quoted-string; CR and LF cannot be represented and raise ValueError."""
    if "\r" in text or "\n" in text:
        raise ValueError(f"a quoted-string cannot contain CR or LF: {text!r}")
    return '"' + _NEEDS_BACKSLASH.sub(r"\\\g<0>", text) + '"'


def parse_quoted(text: str, pos: int, what: str) -> tuple[QuotedString, int]:
    """The quoted-string that starts at ``text[pos]`` (a '"'), unquoted, and the offset after it."""
    match = QUOTED.match(text, pos)
    if match is None:
        fail(f"unterminated quoted {what}", text, pos)
    return QuotedString(unquote_pairs(match.group(1))), match.end()


def parse_comment(text: str, pos: int) -> tuple[str, int]:
    """The comment (nested parentheses, quoted-pairs) that starts at ``text[pos]`` (a '(').

    Returns the unescaped text between the outer parentheses and the offset after the ')'.
    """
    depth = 0
    skip_to = -1
    for match in _COMMENT_SPECIAL.finditer(text, pos):
        at = match.start()
        if at < skip_to:
            continue
        char = match.group()
        if char == "\\":
            skip_to = at + 2
            if at + 1 >= len(text) or text[at + 1] in "\r\n":
                break
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return unquote_pairs(text[pos + 1 : at]), at + 1
        else:
            fail("CR or LF in a comment", text, at)
    fail("unterminated comment", text, pos)


def _balanced(text: str) -> bool:
    depth = 0
    for char in _COMMENT_SPECIAL.findall(text):
        if char == "\\":
            return False
        depth += 1 if char == "(" else -1
        if depth < 0:
            return False
    return depth == 0


def format_comment(text: str) -> str:
    """``text`` as a comment; parentheses are escaped only when they are not balanced."""
    if "\r" in text or "\n" in text:
        raise ValueError(f"a comment cannot contain CR or LF: {text!r}")
    if _balanced(text):
        return f"({text})"
    return "(" + re.sub(r"[()\\]", r"\\\g<0>", text) + ")"


# ---------------------------------------------------------------------------------------------
# Generic parameters (";name=value", value = token / host / quoted-string)


def parse_params(text: str, pos: int) -> dict[str, str | None]:
    """Parse ``*(SEMI generic-param)`` from ``pos`` to the end of ``text``.

    A parameter without a value maps to None; a quoted value becomes a QuotedString. Names keep
    their case; a repeated name keeps the last value.
    """
    params: dict[str, str | None] = {}
    end = len(text)
    match_param = _PARAM.match
    while pos < end:
        match = match_param(text, pos)
        if match is None:
            fail("bad parameter", text, pos)
        name, value, quoted = match.groups()
        params[name] = value if quoted is None else QuotedString(unquote_pairs(quoted))
        pos = match.end()
    return params


def format_value(value: str) -> str:
    """A parameter value as written: quoted when it was quoted or is not a token/host."""
    if type(value) is QuotedString or _VALUE.fullmatch(value) is None:
        return quote(value)
    return value


def format_params(params: Mapping[str, str | None]) -> str:
    return "".join(
        f";{name}" if value is None else f";{name}={format_value(value)}" for name, value in params.items()
    )


def find_key(params: Mapping[str, object], name: str) -> str | None:
    """The key of ``params`` equal to ``name`` ignoring case (``name`` itself when present)."""
    if name in params:
        return name
    lowered = name.lower()
    for key in params:
        if key.lower() == lowered:
            return key
    return None


def params_key(params: Mapping[str, str | None]) -> frozenset[tuple[str, str | None]]:
    """What parameters compare by: names ignore case, values are compared exactly."""
    return frozenset((name.lower(), value) for name, value in params.items())


# ---------------------------------------------------------------------------------------------
# Lists


def split_list(text: str, what: str) -> list[str]:
    """Split a header value at the commas that are outside quoted strings and ``<...>``.

    Each element is trimmed of SP/HTAB; an empty element is an error.
    """
    if '"' not in text and "<" not in text:
        parts = text.split(",")
    else:
        parts = []
        start = 0
        in_quote = in_angle = False
        skip_to = -1
        for match in _LIST_SPECIAL.finditer(text):
            at = match.start()
            if at < skip_to:
                continue
            char = match.group()
            if in_quote:
                if char == "\\":
                    skip_to = at + 2
                elif char == '"':
                    in_quote = False
            elif in_angle:
                in_angle = char != ">"
            elif char == '"':
                in_quote = True
            elif char == "<":
                in_angle = True
            elif char == ",":
                parts.append(text[start:at])
                start = at + 1
        parts.append(text[start:])
    items = [part.strip(" \t") for part in parts]
    if "" in items:
        fail(f"empty element in a {what} list", text)
    return items


# ---------------------------------------------------------------------------------------------
# %HH escaping in URIs


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogateescape"))


class EscapedPart:
    """One part of a SIP URI (user, password, parameter, header): its allowed characters.

    ``parse`` checks escaped text and returns it unescaped (%HH sequences are UTF-8; bytes that
    are not valid UTF-8 become surrogate escapes); ``format`` escapes what must be escaped.
    """

    __slots__ = ("_escape", "_valid", "what")

    def __init__(self, chars: str, what: str) -> None:
        self.what = what
        self._valid = re.compile(f"(?:[{chars}]|%[0-9A-Fa-f]{{2}})*")
        self._escape = re.compile(f"[^{chars}]+")

    def parse(self, text: str, source: str) -> str:
        if self._valid.fullmatch(text) is None:
            fail(f"bad character in URI {self.what}", source)
        return unquote(text, errors="surrogateescape") if "%" in text else text

    def format(self, text: str) -> str:
        return self._escape.sub(_percent, text)


USER = EscapedPart(USER_CHARS, "user")
PASSWORD = EscapedPart(PASSWORD_CHARS, "password")
PARAM = EscapedPart(PARAM_CHARS, "parameter")
HEADER = EscapedPart(HEADER_CHARS, "header")
