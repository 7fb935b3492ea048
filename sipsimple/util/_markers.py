"""Marker classes: unique, self-describing sentinel values such as ``Any`` and ``All``.

A marker is a class used as a value. It cannot be instantiated, its repr is its name, and it is
falsy-neutral (truthiness is the default ``True``). Markers compare by identity, survive copying and
pickling (by reference to their module), and are hashable, so they can be dictionary keys.
"""

from __future__ import annotations

from typing import Any as _Any
from typing import NoReturn


class MarkerType(type):
    """Metaclass of marker classes."""

    def __call__(cls, *args: _Any, **kwargs: _Any) -> NoReturn:
        raise TypeError(f"{cls.__name__} is a marker and cannot be instantiated")

    def __repr__(cls) -> str:
        return cls.__name__

    def __copy__(cls) -> MarkerType:
        return cls

    def __deepcopy__(cls, memo: dict[int, object]) -> MarkerType:
        return cls


class Any(metaclass=MarkerType):
    """Matches any value (e.g. any notification name or sender)."""


class All(metaclass=MarkerType):
    """Stands for every element of a collection (e.g. all accounts)."""
