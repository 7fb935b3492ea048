"""The ConfigurationManager: the in-memory configuration tree and its backend.

The tree is a dict of dicts whose leaves are ``str``, ``list[str]`` or ``None``; a *key* is the path
to a node, a list of strings such as ``['Accounts', 'alice@example.com']``. Settings objects read their
state with ``get`` and write it with ``update``/``rename``/``delete`` followed by ``save``, which hands
the whole tree to the backend. Every method is thread-safe.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import Any

from sipsimple.configuration.backend import ConfigurationBackend, ConfigurationBackendError, check_tree
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.util import ISOTimestamp, Singleton

__all__ = ["ConfigurationError", "ConfigurationManager"]

Key = Sequence[str]
_RAISE = object()


class ConfigurationError(Exception):
    """The configuration cannot be loaded or used."""


class ConfigurationManager(metaclass=Singleton):
    """Holds the configuration tree loaded from a backend (a singleton).

    ``start(backend)`` loads it. The reference SDK's ``start()`` took its backend from
    ``SIPApplication.storage``; here SIPApplication passes ``storage.configuration_backend`` explicitly.
    A backend that cannot load posts ``CFGManagerLoadFailed`` (data: ``exception``, ``timestamp``) and
    raises ConfigurationError; ``start`` can then be called again.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._backend: ConfigurationBackend | None = None
        self._data: dict[str, Any] = {}

    @property
    def started(self) -> bool:
        return self._backend is not None

    @property
    def backend(self) -> ConfigurationBackend | None:
        return self._backend

    def start(self, backend: ConfigurationBackend | None = None) -> None:
        if backend is None:
            raise ConfigurationError(
                "no configuration backend: pass one, or start SIPApplication with a storage"
            )
        with self._lock:
            if self._backend is not None:
                raise ConfigurationError("the ConfigurationManager is already started")
            try:
                data = backend.load()
                check_tree(data)
            except (ConfigurationBackendError, ValueError, OSError) as e:
                NotificationCenter().post_notification(
                    "CFGManagerLoadFailed",
                    sender=self,
                    data=NotificationData(timestamp=ISOTimestamp.now(), exception=e),
                )
                raise ConfigurationError(f"cannot load the configuration: {e}") from e
            self._data = data
            self._backend = backend

    def stop(self) -> None:
        """Forget the backend and the loaded tree, and every settings object loaded from it."""
        from sipsimple.configuration._object import SettingsObject

        with self._lock:
            self._backend = None
            self._data = {}
            pending = [SettingsObject]
            while pending:
                cls = pending.pop()
                cls._forget_instances_()
                pending.extend(cls.__subclasses__())

    def _require_started(self) -> ConfigurationBackend:
        if self._backend is None:
            raise ConfigurationError("the ConfigurationManager is not started")
        return self._backend

    # reading -------------------------------------------------------------------------------------

    def get(self, key: Key, default: Any = _RAISE) -> Any:
        """A copy of the node at ``key``; KeyError (or ``default``) when there is none."""
        with self._lock:
            self._require_started()
            node: Any = self._data
            for part in key:
                if not isinstance(node, dict) or part not in node:
                    if default is _RAISE:
                        raise KeyError(list(key))
                    return default
                node = node[part]
            return copy.deepcopy(node)

    def get_names(self, key: Key) -> list[str]:
        """The names of the sections under ``key`` (e.g. the account ids under ``['Accounts']``)."""
        node = self.get(key, default={})
        return (
            [name for name, child in node.items() if isinstance(child, dict)]
            if isinstance(node, dict)
            else []
        )

    # writing -------------------------------------------------------------------------------------

    def update(self, key: Key, data: Any) -> None:
        """Replace the node at ``key`` with ``data`` (in memory; ``save()`` writes it)."""
        if not key:
            raise ValueError("update needs a non-empty key")
        check_tree({"_": data})
        with self._lock:
            self._require_started()
            node = self._data
            for part in key[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[key[-1]] = copy.deepcopy(data)

    def delete(self, key: Key) -> None:
        """Remove the node at ``key`` (and parents left empty); no error if it does not exist."""
        with self._lock:
            self._require_started()
            parents: list[tuple[dict[str, Any], str]] = []
            node = self._data
            for part in key[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    return
                parents.append((node, part))
                node = child
            node.pop(key[-1], None)
            for parent, part in reversed(parents):
                if parent[part]:
                    break
                del parent[part]

    def rename(self, old_key: Key, new_key: Key) -> None:
        """Move the node at ``old_key`` to ``new_key``; KeyError if there is nothing at ``old_key``."""
        with self._lock:
            data = self.get(old_key)
            if self.get(new_key, default=None) is not None:
                raise KeyError(f"{list(new_key)} already exists")
            self.delete(old_key)
            self.update(new_key, data)

    def save(self) -> None:
        """Write the whole tree through the backend (atomically, as the backend guarantees)."""
        with self._lock:
            self._require_started().save(copy.deepcopy(self._data))

    def store(self, old_key: Key | None, new_key: Key | None, data: Any) -> None:
        """Remove ``old_key``, put ``data`` at ``new_key`` and save, all or nothing.

        On a backend failure the in-memory tree is restored, so it always matches what is stored, and
        the error is raised.
        """
        with self._lock:
            self._require_started()
            snapshot = copy.deepcopy(self._data)
            try:
                if old_key is not None:
                    self.delete(old_key)
                if new_key is not None:
                    self.update(new_key, data)
                self.save()
            except BaseException:
                self._data = snapshot
                raise
