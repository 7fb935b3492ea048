"""What every SDP object shares, and the checks of the values they hold.

An SDP *family* (connection, bandwidth line, attribute, media description, session) is one base
class that names its fields (``_fields``) and the check each one goes through (``_checks``). Its
two public classes add a flavour: ``SDPConnection(Mutable, _ConnectionBase)`` and
``FrozenSDPConnection(Frozen, _ConnectionBase)``.

* A check takes ``(value, frozen)`` and returns what is stored, or raises ValueError/TypeError
  saying what is wrong. Containers are stored per flavour: lists of mutable objects on the mutable
  side, tuples of frozen objects on the frozen side; ``new()`` converts between the two, deeply.
* Mutable objects check every assignment (and ``_validate`` the object as a whole afterwards, for
  rules that tie two fields together); frozen ones refuse assignment and are hashable.
* Objects of one family compare equal whether mutable or frozen.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, NoReturn, Self

__all__ = [
    "PROTO",
    "TOKEN",
    "Check",
    "Frozen",
    "Mutable",
    "SDPObject",
    "check_address",
    "check_int",
    "check_non_ws",
    "check_optional_text",
    "check_text",
    "check_token",
    "is_ip_address",
]

#: (value, frozen) -> the value to store; raises ValueError or TypeError.
Check = Callable[[Any, bool], Any]


def _key_of(value: Any) -> Any:
    if isinstance(value, SDPObject):
        return (value._family, value._key())
    if isinstance(value, (list, tuple)):
        return tuple(_key_of(item) for item in value)
    return value


def _rebuild(cls: type[SDPObject], values: tuple[Any, ...]) -> SDPObject:
    return cls(*values)


class SDPObject:
    """The root of every SDP class: checked fields, equality across flavours, ``new``, ``replace``."""

    __slots__ = ()

    frozen: ClassVar[bool] = False
    _family: ClassVar[type[SDPObject]]
    #: the data attributes, in the order the constructor takes them
    _fields: ClassVar[tuple[str, ...]] = ()
    #: field name -> check (fields without a check are stored as given)
    _checks: ClassVar[Mapping[str, Check]] = {}
    #: the fields that hold lists or nested objects (stored per flavour)
    _containers: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_fields" in cls.__dict__:
            cls._family = cls

    def _assign(self, values: Iterable[Any], trusted: bool = False) -> None:
        """Check and store ``values`` (in ``_fields`` order), then validate the whole object.

        ``trusted``: the values come from an object of the same family, so the scalar fields
        passed these very checks already; only the containers (``_containers``) are converted
        (and their items checked: a list can be changed behind its owner's back).
        """
        frozen = self.frozen
        checks = self._checks
        containers = self._containers
        for name, value in zip(self._fields, values, strict=True):
            check = checks.get(name)
            if check is not None and not (trusted and name not in containers):
                value = check(value, frozen)
            object.__setattr__(self, name, value)
        if not trusted:
            self._validate()

    @classmethod
    def _make(cls, *values: Any) -> Self:
        """An instance from values already checked and in this flavour's form (the parser's fast path)."""
        made = cls.__new__(cls)
        for name, value in zip(cls._fields, values, strict=True):
            object.__setattr__(made, name, value)
        return made

    def _validate(self) -> None:
        """Rules that tie fields together (an IPv6 address with address type IP4, say)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            object.__setattr__(self, name, value)  # properties with a setter
            return
        check = self._checks.get(name)
        if check is not None:
            value = check(value, False)
        old = getattr(self, name)
        object.__setattr__(self, name, value)
        try:
            self._validate()
        except (TypeError, ValueError):
            object.__setattr__(self, name, old)
            raise

    # conversion

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    @classmethod
    def new(cls, other: SDPObject) -> Self:
        """A ``cls`` with the values of ``other`` (same family, either flavour); a deep copy.

        ``FrozenSDPSession.new(session)`` freezes a session, ``SDPSession.new(frozen)`` gives an
        editable copy. A frozen object converted to its own class is returned as it is.
        """
        if not isinstance(other, SDPObject) or other._family is not cls._family:
            raise TypeError(f"cannot make a {cls.__name__} from {type(other).__name__}")
        if cls.frozen and type(other) is cls:
            return other
        if not cls.frozen and not other.frozen:
            # go through the frozen flavour so that nested mutable objects are copied, not shared
            other = other._frozen_class().new(other)
        made = cls.__new__(cls)
        made._assign(other._values(), trusted=True)
        return made

    @classmethod
    def _frozen_class(cls) -> type[SDPObject]:
        for sub in cls._family.__subclasses__():
            if sub.frozen:
                return sub
        raise TypeError(f"{cls.__name__} has no frozen flavour")  # pragma: no cover

    def replace(self, **changes: Any) -> Self:
        """A new object of this class with some fields changed (the others as they are)."""
        unknown = set(changes) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        made = type(self).__new__(type(self))
        if not self.frozen:
            made._assign([changes[name] if name in changes else getattr(self, name) for name in self._fields])
            return made
        # a frozen object's values are checked and immutable already: only the changes need checks
        checks = self._checks
        for name in self._fields:
            if name in changes:
                check = checks.get(name)
                value = changes[name] if check is None else check(changes[name], True)
            else:
                value = getattr(self, name)
            object.__setattr__(made, name, value)
        made._validate()
        return made

    # comparison

    def _key(self) -> tuple[Any, ...]:
        return tuple(_key_of(value) for value in self._values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SDPObject):
            return NotImplemented
        return self._family is other._family and self._key() == other._key()

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self._values())

    def __copy__(self) -> Self:
        return type(self).new(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return type(self).new(self)

    def copy(self) -> Self:
        return self.__copy__()


class Mutable:
    """The editable flavour: assignments are checked."""

    __slots__ = ()
    frozen: ClassVar[bool] = False


class Frozen:
    """The immutable, hashable flavour."""

    __slots__ = ()
    frozen: ClassVar[bool] = True

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __hash__(self) -> int:
        return hash(self._key())  # type: ignore[attr-defined]

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


# -- value checks (RFC 4566 §9 grammar) ---------------------------------------------------------

#: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E
TOKEN = re.compile(r"[!#-'*+\-.0-9A-Z^-~]+")
#: proto = token *("/" token)
PROTO = re.compile(r"[!#-'*+\-.0-9A-Z^-~]+(?:/[!#-'*+\-.0-9A-Z^-~]+)*")
_NON_WS = re.compile(r"[^\x00-\x20\x7f]+")
_TEXT_BAD = re.compile(r"[\x00\r\n]")
_FQDN = re.compile(r"[A-Za-z0-9\-.]+")
_DIGITS_AND_DOTS = re.compile(r"[0-9.]+")
_MULTICAST_SUFFIX = re.compile(r"(?:/[0-9]{1,10}){1,2}")


def _need_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value


def check_token(what: str) -> Check:
    """A check for an RFC 4566 token (media type, net type, bandwidth type, attribute name...)."""

    def check(value: Any, frozen: bool) -> str:
        if TOKEN.fullmatch(_need_str(value, what)) is None:
            raise ValueError(f"{what} {value!r} is not a token")
        return value

    return check


def check_non_ws(what: str) -> Check:
    """A check for a non-empty string without white space (the o= user name, say)."""

    def check(value: Any, frozen: bool) -> str:
        if _NON_WS.fullmatch(_need_str(value, what)) is None:
            raise ValueError(f"{what} {value!r} is empty or holds white space")
        return value

    return check


def check_text(what: str) -> Check:
    """A check for free text: anything but NUL, CR and LF (may be empty)."""

    def check(value: Any, frozen: bool) -> str:
        if _TEXT_BAD.search(_need_str(value, what)) is not None:
            raise ValueError(f"{what} holds NUL, CR or LF")
        return value

    return check


def check_optional_text(what: str) -> Check:
    text = check_text(what)

    def check(value: Any, frozen: bool) -> str | None:
        return None if value is None else text(value, frozen)

    return check


def check_int(what: str, low: int, high: int) -> Check:
    def check(value: Any, frozen: bool) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be an int, not {type(value).__name__}")
        if not low <= value <= high:
            raise ValueError(f"{what} {value} is not in {low}..{high}")
        return value

    return check


@functools.lru_cache(maxsize=1024)  # every SDP built or parsed checks the same few addresses
def is_ip_address(text: str, version: int) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return address.version == version


def check_address(host: str, address_type: str, *, multicast_suffix: bool = False) -> None:
    """Raise ValueError unless ``host`` is usable as an address of ``address_type``.

    IP4: a dotted quad or a domain name; IP6: an IPv6 address or a domain name (RFC 4566 §5.7).
    Other address types (extensions) take any string without white space. With
    ``multicast_suffix``, ``/ttl[/count]`` (IP4) or ``/count`` (IP6) may follow the address.
    """
    if multicast_suffix and "/" in host:
        host, _, suffix = host.partition("/")
        if _MULTICAST_SUFFIX.fullmatch("/" + suffix) is None:
            raise ValueError(f"{suffix!r} is not a multicast /ttl or /count suffix")
        if address_type == "IP6" and "/" in suffix:
            raise ValueError("an IP6 multicast address takes only a /count suffix")
    if address_type == "IP4":
        if is_ip_address(host, 4):
            return
        if _DIGITS_AND_DOTS.fullmatch(host) is not None or _FQDN.fullmatch(host) is None:
            raise ValueError(f"{host!r} is neither an IPv4 address nor a domain name")
    elif address_type == "IP6":
        if is_ip_address(host, 6):
            return
        if _DIGITS_AND_DOTS.fullmatch(host) is not None or _FQDN.fullmatch(host) is None:
            raise ValueError(f"{host!r} is neither an IPv6 address nor a domain name")
    elif _NON_WS.fullmatch(host) is None:
        raise ValueError(f"address {host!r} is empty or holds white space")
