"""Building blocks shared by every configuration datatype.

Each datatype is an immutable value whose ``str()`` is its canonical string form and whose
constructor accepts that form back (``T(str(v)) == v``).  Four small bases carry the rules:

* :class:`Choice` -- a ``str`` restricted to a fixed set of spellings (matched case-insensitively).
* :class:`List` -- an immutable ``tuple`` whose items are validated through an item type.
* :class:`BoundedInteger` -- an ``int`` restricted to a range or to a set of values.
* :class:`Frozen` -- a read-only object compared and hashed by a key tuple, for values made of parts.

Bad input always raises :class:`ValueError` with a message that names the bad value and says
what is accepted; the configuration layer prefixes it with the setting name.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

__all__ = ["BoundedInteger", "Choice", "Frozen", "List", "invalid", "parse_int"]


def invalid(label: str, value: object, reason: str) -> ValueError:
    """Build the uniform error: ``invalid <what> <value>: <reason>``."""
    shown = repr(str(value)) if isinstance(value, str) else repr(value)
    return ValueError(f"invalid {label} {shown}: {reason}")


_DECIMAL = re.compile(r"\s*[+-]?[0-9]+\s*")


def parse_int(value: object) -> int | None:
    """An int or a decimal string (surrounding blanks allowed) as an int; None for anything else,
    including bools and floats."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return int(value)
    return None


class Choice(str):
    """A string that must be one of ``values``; input is matched ignoring case.

    The canonical form is the spelling used in ``values``.  Subclasses only set ``values``
    (and ``label``, the words used in error messages)::

        class SIPTransport(Choice):
            label = "SIP transport"
            values = ("udp", "tcp", "tls")
    """

    __slots__ = ()
    label: ClassVar[str] = "value"
    values: ClassVar[tuple[str, ...]] = ()
    _lookup: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._lookup = {value.casefold(): value for value in cls.values}

    def __new__(cls, value: object) -> Self:
        if type(value) is cls:
            return value
        if isinstance(value, str):
            canonical = cls._lookup.get(value.strip().casefold())
            if canonical is not None:
                return super().__new__(cls, canonical)
        raise invalid(cls.label, value, f"must be one of {', '.join(cls.values)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class BoundedInteger(int):
    """An ``int`` within ``minimum..maximum`` (either may be ``None``) or, if ``allowed`` is set,
    one of ``allowed``.  Accepts ints and decimal strings; rejects bools and floats."""

    __slots__ = ()
    label: ClassVar[str] = "integer"
    minimum: ClassVar[int | None] = None
    maximum: ClassVar[int | None] = None
    allowed: ClassVar[tuple[int, ...] | None] = None

    def __new__(cls, value: object) -> Self:
        if type(value) is cls:
            return value
        number = parse_int(value)
        if number is None or not cls._accepts(number):
            raise invalid(cls.label, value, cls._rule())
        return super().__new__(cls, number)

    @classmethod
    def _accepts(cls, number: int) -> bool:
        if cls.allowed is not None:
            return number in cls.allowed
        low_ok = cls.minimum is None or number >= cls.minimum
        high_ok = cls.maximum is None or number <= cls.maximum
        return low_ok and high_ok

    @classmethod
    def _rule(cls) -> str:
        if cls.allowed is not None:
            return f"must be one of {', '.join(map(str, cls.allowed))}"
        if cls.minimum is not None and cls.maximum is not None:
            return f"must be an integer in {cls.minimum}..{cls.maximum}"
        if cls.minimum is not None:
            return f"must be an integer >= {cls.minimum}"
        if cls.maximum is not None:
            return f"must be an integer <= {cls.maximum}"
        return "must be an integer"

    # int.__str__ is object.__str__, which would call our __repr__: keep the plain digits.
    __str__ = int.__repr__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({int(self)})"


class List(tuple[Any, ...]):
    """An immutable list whose items are converted and validated by the item type ``type``.

    The state stored by the configuration layer is ``[str(item) for item in value]``, and
    ``List(that_state) == value``.  The constructor also accepts a comma-separated string
    (``"udp, tls"``), which is what ``str()`` returns.  With ``unique`` (the default) an item
    that appears twice is an error.  Subclasses set ``type`` and ``label``::

        class SIPTransportList(List):
            type = SIPTransport
            label = "SIP transport list"
    """

    __slots__ = ()
    type: ClassVar[Any] = str
    label: ClassVar[str] = "list"
    unique: ClassVar[bool] = True

    def __new__(cls, value: Iterable[Any] | str = ()) -> Self:
        if type(value) is cls:
            return value
        items: Iterable[Any]
        if isinstance(value, str):
            items = [part.strip() for part in value.split(",")] if value.strip() else []
        elif isinstance(value, bytes | bytearray | Mapping) or not isinstance(value, Iterable):
            raise invalid(cls.label, value, "must be a list or a comma-separated string")
        else:
            items = value
        converted: list[Any] = []
        for item in items:
            try:
                converted.append(cls.type(item))
            except ValueError as exc:
                raise ValueError(f"invalid {cls.label}: {exc}") from None
        if cls.unique:
            seen: set[Any] = set()
            for item in converted:
                if item in seen:
                    raise ValueError(f"invalid {cls.label}: {str(item)!r} appears more than once")
                seen.add(item)
        return super().__new__(cls, converted)

    def __str__(self) -> str:
        return ", ".join(str(item) for item in self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[str(item) for item in self]!r})"


class Frozen(ABC):
    """Base for read-only values made of several parts.

    Subclasses declare ``__slots__``, set their fields with ``object.__setattr__`` during
    construction, implement ``_key()`` (used for ``==`` and ``hash``) and ``__str__`` (the
    canonical form, which their constructor must accept: pickling and copying rely on it).
    """

    __slots__ = ()

    @abstractmethod
    def _key(self) -> tuple[Any, ...]: ...

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} objects are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} objects are immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._key()))

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self),)
