"""What every header class shares.

A header *family* is one base class (``_FromBase``) holding the data slots, the parser and the
serialiser. Its two public classes add a mixin: ``FromHeader(_Mutable, _FromBase)`` and
``FrozenFromHeader(_Frozen, _FromBase)``. The frozen mixin forbids assignment, stores parameters
in a FrozenDict and URIs as FrozenSIPURI, and hashes; the mutable one stores dicts and SIPURIs.
Headers of one family compare equal whether mutable or frozen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NoReturn, Self, TypeVar, overload

from .._grammar import (
    TOKEN_CHARS,
    FrozenDict,
    QuotedString,
    SIPParseError,
    fail,
    find_key,
    params_key,
    parse_quoted,
    quote,
    skip_lws,
    split_list,
)
from ..uri import SIPURI, AbsoluteURI, BaseSIPURI, FrozenSIPURI

__all__ = [
    "SIPParseError",
    "BaseHeader",
    "FrozenHeader",
    "Header",
    "Param",
    "format_name_addr",
    "parse_name_addr",
]

_T = TypeVar("_T")

URI = SIPURI | FrozenSIPURI | AbsoluteURI
Parameters = Mapping[str, str | None]
#: A check run on a parameter at parse time: (value, whole header value) -> None or SIPParseError.
ParamCheck = Callable[[str | None, str], None]


class _Mutable:
    __slots__ = ()
    frozen: ClassVar[bool] = False
    _uri_type: ClassVar[type[BaseSIPURI]] = SIPURI

    @staticmethod
    def _dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
        return dict(mapping)


class _Frozen:
    __slots__ = ()
    frozen: ClassVar[bool] = True
    _uri_type: ClassVar[type[BaseSIPURI]] = FrozenSIPURI
    _dict = FrozenDict

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __hash__(self) -> int:
        return hash((type(self)._family, self._compare_key()))  # type: ignore[attr-defined]

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


def _rebuild(cls: type[BaseHeader], values: tuple[Any, ...]) -> BaseHeader:
    return cls._make(*values)


class BaseHeader:
    """The root of every header class: ``name``, ``body``, ``str()``, equality and ``new``."""

    __slots__ = ()

    name: str
    frozen: ClassVar[bool]
    _family: ClassVar[type[BaseHeader]]
    #: the data attributes, in the order ``_make`` takes them (the family base's ``__slots__``)
    _fields: ClassVar[tuple[str, ...]] = ()
    _uri_type: ClassVar[type[BaseSIPURI]]
    _dict: ClassVar[Any]
    #: parameter name (lower case) -> check run by ``parse``
    _param_checks: ClassVar[Mapping[str, ParamCheck]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not issubclass(cls, (_Mutable, _Frozen)):
            cls._family = cls

    # construction

    @classmethod
    def _adapt(cls, value: Any, copy: bool = False) -> Any:
        """A value in the form this class stores it (URI and dict types of the mutable/frozen side)."""
        if isinstance(value, BaseSIPURI):
            return cls._uri_type.new(value) if copy or type(value) is not cls._uri_type else value
        if isinstance(value, Mapping):
            return cls._dict(value)
        return value

    def _assign(self, *values: Any) -> None:
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, self._adapt(value))

    @classmethod
    def _make(cls, *values: Any) -> Self:
        """An instance from freshly parsed values, in ``_fields`` order, without re-checking them.

        URIs must already be of ``_uri_type``; dicts are taken over (frozen: wrapped in a FrozenDict).
        """
        header = cls.__new__(cls)
        frozen = cls.frozen
        for name, value in zip(cls._fields, values, strict=True):
            object.__setattr__(header, name, FrozenDict(value) if frozen and type(value) is dict else value)
        return header

    @classmethod
    def new(cls, header: BaseHeader) -> Self:
        """A ``cls`` with the values of ``header`` (``FrozenFromHeader.new(from_header)``)."""
        if type(header) is cls and cls.frozen:
            return header
        if header._family is not cls._family:
            raise TypeError(f"cannot make a {cls.__name__} from a {type(header).__name__}")
        made = cls.__new__(cls)
        for name, value in zip(cls._fields, header._values(), strict=True):
            object.__setattr__(made, name, cls._adapt(value, copy=True))
        return made

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    @classmethod
    def _check_params(cls, params: Mapping[str, str | None], source: str) -> None:
        checks = cls._param_checks
        if checks:
            for name, value in params.items():
                check = checks.get(name.lower())
                if check is not None:
                    check(value, source)

    # serialisation and comparison

    if TYPE_CHECKING:  # every family base defines it

        @property
        def body(self) -> str:
            """The header value, as written after ``Name:``."""

    def __str__(self) -> str:
        return f"{self.name}: {self.body}"

    def __repr__(self) -> str:
        return f'<{type(self).__name__} "{self.body}">'

    def _compare_key(self) -> tuple[Any, ...]:
        return tuple(params_key(value) if isinstance(value, Mapping) else value for value in self._values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseHeader):
            return NotImplemented
        return self._family is other._family and self._compare_key() == other._compare_key()

    def __reduce__(self) -> tuple[Any, ...]:
        values = tuple(dict(v) if isinstance(v, Mapping) else v for v in self._values())
        return _rebuild, (type(self), values)

    def __copy__(self) -> Self:
        return type(self).new(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return type(self).new(self)

    def copy(self) -> Self:
        return self.__copy__()


class ListHeader(BaseHeader):
    """A header whose value may be a comma-separated list (RFC 3261 §7.3.1)."""

    __slots__ = ()

    if TYPE_CHECKING:  # family bases list ListHeader last, so their own parse wins

        @classmethod
        def parse(cls, value: str) -> Self:
            """Parse one value of the header."""

    @classmethod
    def parse_list(cls, value: str) -> list[Self]:
        """Every element of a list value, split at commas outside quotes and ``<...>``."""
        return [cls.parse(item) for item in split_list(value, cls.name)]


# ---------------------------------------------------------------------------------------------
# Parameter-backed properties


class Param(Generic[_T]):
    """A property stored in ``parameters`` (found ignoring case; assigning None removes it).

    ``decode`` turns the stored value (None for a flag) into the attribute; ``encode`` turns an
    assigned value back into the stored one. ``absent`` is what reading gives without it.
    """

    def __init__(
        self,
        name: str,
        decode: Callable[[str | None], _T | None],
        encode: Callable[[_T], str | None] = str,
        absent: _T | None = None,
        doc: str | None = None,
    ) -> None:
        self.name = name
        self.decode = decode
        self.encode = encode
        self.absent = absent
        self.__doc__ = doc or f"The {name!r} parameter."

    @overload
    def __get__(self, header: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, header: BaseHeader, owner: type | None = None) -> _T | None: ...
    def __get__(self, header: BaseHeader | None, owner: type | None = None) -> Self | _T | None:
        if header is None:
            return self
        params: Mapping[str, str | None] = header.parameters  # type: ignore[attr-defined]
        key = find_key(params, self.name)
        return self.absent if key is None else self.decode(params[key])

    def __set__(self, header: BaseHeader, value: _T | None) -> None:
        if header.frozen:
            raise AttributeError(f"{type(header).__name__} is immutable")
        params: dict[str, str | None] = header.parameters  # type: ignore[attr-defined]
        key = find_key(params, self.name)
        if value is None or value is False:
            if key is not None:
                del params[key]
        else:
            params[key or self.name] = self.encode(value)


def text_param(value: str | None) -> str | None:
    return value


def int_param(value: str | None) -> int | None:
    return None if value is None else int(value)


def flag_param(value: str | None) -> bool:
    return True


def no_value(value: object) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# The generic header


class _GenericBase(BaseHeader):
    __slots__ = ("_body", "name")
    _body: str

    def __init__(self, name: str, body: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "_body", body)

    @classmethod
    def parse(cls, value: str, name: str) -> Self:
        """A header named ``name`` whose value is kept as text (trimmed of SP/HTAB)."""
        if re.fullmatch(f"[{TOKEN_CHARS}]+", name) is None:
            fail("header name is not a token", name)
        if "\r" in value or "\n" in value:
            fail("CR or LF in a header value", value)
        return cls(name, value.strip(" \t"))

    @property
    def body(self) -> str:
        return self._body

    @body.setter
    def body(self, value: str) -> None:
        if self.frozen:
            raise AttributeError(f"{type(self).__name__} is immutable")
        object.__setattr__(self, "_body", value)

    def _values(self) -> tuple[Any, ...]:
        return self.name, self._body

    def _compare_key(self) -> tuple[Any, ...]:
        return self.name.lower(), self._body

    @classmethod
    def _make(cls, *values: Any) -> Self:
        return cls(*values)

    @classmethod
    def new(cls, header: BaseHeader) -> Self:
        if type(header) is cls and cls.frozen:
            return header
        if not isinstance(header, _GenericBase):
            return cls(header.name, header.body)
        return cls(header.name, header._body)


class Header(_Mutable, _GenericBase):
    """A header whose value is not interpreted: ``Header(name, body)``."""

    __slots__ = ()


class FrozenHeader(_Frozen, _GenericBase):
    """An immutable, hashable Header."""

    __slots__ = ()


# ---------------------------------------------------------------------------------------------
# name-addr / addr-spec (RFC 3261 §20.10, §25.1)

_DISPLAY_WORDS = re.compile(f"[{TOKEN_CHARS} \\t]*")
_TOKEN_WORDS = re.compile(f"[{TOKEN_CHARS}]+(?: [{TOKEN_CHARS}]+)*")


def parse_name_addr(text: str) -> tuple[str | None, str, int]:
    """Split ``( name-addr / addr-spec )`` at the start of ``text`` (already trimmed).

    Returns the display name (a QuotedString when it was quoted, else the words joined by single
    spaces, or None), the URI text and the offset where the header parameters start. In the
    addr-spec form the URI ends at the first ';' and may not contain '?' or ',' (RFC 3261 §20).
    """
    if text.startswith('"'):
        display: str | None
        display, end = parse_quoted(text, 0, "display name")
        start = skip_lws(text, end)
        if not text.startswith("<", start):
            fail("expected '<' after the display name", text, start)
        return _angle(text, start, display)
    words = _DISPLAY_WORDS.match(text)
    assert words is not None  # the pattern matches the empty string
    if text.startswith("<", words.end()):
        display = " ".join(words.group().split()) or None
        return _angle(text, words.end(), display)
    end = text.find(";")
    if end < 0:
        end = len(text)
    uri = text[:end].rstrip(" \t")
    for char in '?, \t<>"':
        if char in uri:
            fail(f"{char!r} in a URI that is not enclosed in <>", text)
    return None, uri, end


def _angle(text: str, start: int, display: str | None) -> tuple[str | None, str, int]:
    end = text.find(">", start + 1)
    if end < 0:
        fail("missing '>'", text, start)
    uri = text[start + 1 : end]
    if not uri or uri[0] in " \t" or uri[-1] in " \t":
        fail("whitespace inside <>", text, start)
    return display, uri, end + 1


def format_display_name(display: str) -> str:
    """Unquoted only when it is token words and was not quoted when parsed."""
    if type(display) is not QuotedString and _TOKEN_WORDS.fullmatch(display) is not None:
        return display
    return quote(display)


def format_name_addr(display: str | None, uri: object) -> str:
    if display is None:
        return f"<{uri}>"
    return f"{format_display_name(display)} <{uri}>"
