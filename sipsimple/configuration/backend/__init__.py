"""Configuration backends: where the configuration tree is stored.

A backend implements ``IConfigurationBackend``: ``load()`` returns the stored tree (``{}`` when there is
none) and ``save(data)`` stores a tree, replacing the previous one atomically. A tree is a dict whose
keys are strings and whose values are trees, strings, lists of strings or ``None``.
"""

from __future__ import annotations

from typing import Any, Protocol

from zope.interface import Interface

__all__ = ["ConfigurationBackend", "ConfigurationBackendError", "IConfigurationBackend", "check_tree"]


class ConfigurationBackendError(Exception):
    """The backend cannot load or save the configuration."""


class IConfigurationBackend(Interface):
    """Stores the configuration tree."""

    def load():  # type: ignore[misc]
        """Return the stored tree, or an empty dict when nothing is stored."""

    def save(data):
        """Store ``data`` in place of the previous tree; either all of it is stored or none."""


class ConfigurationBackend(Protocol):
    """The static type of IConfigurationBackend providers (for annotations)."""

    def load(self) -> dict[str, Any]: ...

    def save(self, data: dict[str, Any]) -> None: ...


def check_tree(data: Any, path: str = "") -> None:
    """Raise ValueError unless ``data`` is a valid configuration tree."""
    if not isinstance(data, dict):
        raise ValueError(f"configuration node {path or '/'} is a {type(data).__name__}, not a section")
    for key, value in data.items():
        where = f"{path}/{key}"
        if not isinstance(key, str) or not key:
            raise ValueError(f"configuration key {where!r} is not a non-empty string")
        if isinstance(value, dict):
            check_tree(value, where)
        elif isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ValueError(f"configuration list {where} has items that are not strings")
        elif value is not None and not isinstance(value, str):
            raise ValueError(f"configuration value {where} is a {type(value).__name__}, not a string")
