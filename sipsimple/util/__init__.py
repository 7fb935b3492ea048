"""Small utilities shared by every layer: markers, singletons, timestamps, timers."""

from sipsimple.util._markers import All, Any, MarkerType
from sipsimple.util._objects import Null, Singleton
from sipsimple.util._text import MultilingualText
from sipsimple.util._time import ExponentialTimer, ISOTimestamp

__all__ = [
    "All",
    "Any",
    "ExponentialTimer",
    "ISOTimestamp",
    "MarkerType",
    "MultilingualText",
    "Null",
    "Singleton",
]
