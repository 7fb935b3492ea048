"""Small utilities shared by every layer: markers, singletons, timestamps, timers (and ``Route``,
re-exported from ``sipsimple.lookup`` where the reference API documents it)."""

from typing import TYPE_CHECKING

from sipsimple.util._markers import All, Any, MarkerType
from sipsimple.util._objects import Null, Singleton
from sipsimple.util._text import MultilingualText
from sipsimple.util._time import ExponentialTimer, ISOTimestamp

if TYPE_CHECKING:
    from sipsimple.lookup._route import Route


def __getattr__(name: str) -> object:
    # ``Route`` is defined in sipsimple.lookup (which needs the SIP core, which needs this package);
    # it is imported when first asked for, so that importing sipsimple.util stays cycle-free.
    if name == "Route":
        from sipsimple.lookup._route import Route

        return Route
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "All",
    "Any",
    "ExponentialTimer",
    "ISOTimestamp",
    "MarkerType",
    "MultilingualText",
    "Null",
    "Route",
    "Singleton",
]
