"""A configuration backend that keeps the tree in memory (tests, embedded use)."""

from __future__ import annotations

import copy
from typing import Any

from zope.interface import implementer

from sipsimple.configuration.backend import IConfigurationBackend, check_tree

__all__ = ["MemoryBackend"]


@implementer(IConfigurationBackend)
class MemoryBackend:
    def __init__(self, data: dict[str, Any] | None = None) -> None:
        initial = data if data is not None else {}
        check_tree(initial)
        self._data = copy.deepcopy(initial)

    def load(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    def save(self, data: dict[str, Any]) -> None:
        check_tree(data)
        self._data = copy.deepcopy(data)
