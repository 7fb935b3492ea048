"""Setting values: the ``DefaultValue`` marker, ``ModifiedValue``, and conversion to and from storage.

Storage holds a tree of dicts whose leaves are ``str``, ``list[str]`` or ``None``. A setting value of
type ``T`` is stored as ``str(value)`` (``[str(item) ...]`` for list datatypes, ``'true'``/``'false'``
for bool) and read back as ``T(state)``: every datatype accepts its own canonical form.
"""

from __future__ import annotations

from typing import Any

from sipsimple.util._markers import MarkerType

State = str | list[str] | None

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


class DefaultValue(metaclass=MarkerType):
    """Assign this to a setting to return it to its default value."""


class ModifiedValue:
    """The old and new value of a setting that changed."""

    __slots__ = ("new", "old")

    def __init__(self, old: Any, new: Any) -> None:
        self.old = old
        self.new = new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModifiedValue):
            return NotImplemented
        return (self.old, self.new) == (other.old, other.new)

    def __hash__(self) -> int:
        return hash((self.old, self.new))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(old={self.old!r}, new={self.new!r})"


def to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{value!r} is not a boolean (use true/false)")


def coerce(type_: type, value: Any) -> Any:
    """Convert ``value`` to ``type_``; raises ValueError with the reason."""
    if type_ is bool:
        return to_bool(value)
    if isinstance(value, type_) and not (type_ is int and isinstance(value, bool)):
        return value
    if type_ is int and isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return int(value)
    try:
        return type_(value)
    except ValueError:
        raise
    except (TypeError, ArithmeticError) as e:
        raise ValueError(f"{value!r} cannot be converted to {type_.__name__}: {e}") from None


def dump(value: Any) -> State:
    """The storage form of a setting value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return str(value)


def load(type_: type, state: State) -> Any:
    """The setting value for a storage form; raises ValueError for a bad one."""
    if state is None:
        return None
    if isinstance(state, list) and not all(isinstance(item, str) for item in state):
        raise ValueError(f"stored list {state!r} contains non-string items")
    return coerce(type_, state)
