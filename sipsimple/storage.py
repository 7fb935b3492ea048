"""Storage: where the middleware keeps its configuration and its per-account XCAP documents.

An ``ISIPSimpleStorage`` provides ``configuration_backend`` (an IConfigurationBackend) and
``xcap_storage_factory``: called with an account id, it returns that account's ``IXCAPStorage`` (a
small key/value store for cached XCAP documents and the XCAP journal). ``FileStorage(directory)`` keeps
``<directory>/config`` and ``<directory>/xcap/<account id>/``; ``MemoryStorage()`` keeps everything in
memory. Every file is written atomically.
"""

from __future__ import annotations

import os
import re
from typing import Protocol

from zope.interface import Attribute, Interface, implementer

from sipsimple.configuration.backend import ConfigurationBackend
from sipsimple.configuration.backend.file import FileBackend
from sipsimple.configuration.backend.memory import MemoryBackend
from sipsimple.util._files import atomic_write

__all__ = [
    "FileStorage",
    "FileXCAPStorage",
    "ISIPSimpleStorage",
    "IXCAPStorage",
    "MemoryStorage",
    "MemoryXCAPStorage",
    "XCAPStorageError",
]


class XCAPStorageError(Exception):
    """An XCAP storage cannot read or write a document."""


class ISIPSimpleStorage(Interface):
    configuration_backend = Attribute("The IConfigurationBackend that stores the configuration")
    xcap_storage_factory = Attribute("Callable: account id -> IXCAPStorage for that account")


class IXCAPStorage(Interface):
    """Documents of one account, by name."""

    def load(name):
        """The stored bytes of ``name``; XCAPStorageError if there are none."""

    def save(name, data):
        """Store ``data`` (bytes) as ``name``, replacing any previous version atomically."""

    def delete(name):
        """Forget ``name`` (no error when it does not exist)."""

    def purge():  # type: ignore[misc]
        """Forget every document."""


class XCAPStorageFactory(Protocol):
    def __call__(self, account_id: str) -> IXCAPStorage: ...


_SAFE_NAME = re.compile(r"[A-Za-z0-9_.@+\-]+")


def _check_name(name: str) -> str:
    if not _SAFE_NAME.fullmatch(name) or name in (".", "..") or name.endswith(".tmp"):
        raise XCAPStorageError(f"invalid XCAP storage name {name!r}")
    return name


@implementer(IXCAPStorage)
class FileXCAPStorage:
    """Documents stored as files in one directory (created when the first document is saved)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = os.fspath(directory)

    def load(self, name: str) -> bytes:
        path = os.path.join(self.directory, _check_name(name))
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise XCAPStorageError(f"cannot read {path}: {e.strerror or e}") from e

    def save(self, name: str, data: bytes) -> None:
        path = os.path.join(self.directory, _check_name(name))
        try:
            atomic_write(path, bytes(data), mode=0o600)
        except OSError as e:
            raise XCAPStorageError(f"cannot write {path}: {e.strerror or e}") from e

    def delete(self, name: str) -> None:
        try:
            os.unlink(os.path.join(self.directory, _check_name(name)))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise XCAPStorageError(f"cannot delete {name} in {self.directory}: {e.strerror or e}") from e

    def purge(self) -> None:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        for name in names:
            try:
                os.unlink(os.path.join(self.directory, name))
            except FileNotFoundError:
                pass
            except OSError as e:
                raise XCAPStorageError(f"cannot purge {self.directory}: {e.strerror or e}") from e


@implementer(IXCAPStorage)
class MemoryXCAPStorage:
    def __init__(self) -> None:
        self._documents: dict[str, bytes] = {}

    def load(self, name: str) -> bytes:
        try:
            return self._documents[_check_name(name)]
        except KeyError:
            raise XCAPStorageError(f"no document {name!r}") from None

    def save(self, name: str, data: bytes) -> None:
        self._documents[_check_name(name)] = bytes(data)

    def delete(self, name: str) -> None:
        self._documents.pop(_check_name(name), None)

    def purge(self) -> None:
        self._documents.clear()


@implementer(ISIPSimpleStorage)
class FileStorage:
    """Configuration in ``<directory>/config``, XCAP documents under ``<directory>/xcap/<account>/``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = os.path.abspath(os.path.expanduser(os.fspath(directory)))
        self.configuration_backend: ConfigurationBackend = FileBackend(os.path.join(self.directory, "config"))

    def xcap_storage_factory(self, account_id: str) -> FileXCAPStorage:
        return FileXCAPStorage(os.path.join(self.directory, "xcap", _check_name(str(account_id))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.directory!r})"


@implementer(ISIPSimpleStorage)
class MemoryStorage:
    """Everything in memory; the XCAP storage of an account persists for the life of this object."""

    def __init__(self) -> None:
        self.configuration_backend: ConfigurationBackend = MemoryBackend()
        self._xcap: dict[str, MemoryXCAPStorage] = {}

    def xcap_storage_factory(self, account_id: str) -> MemoryXCAPStorage:
        return self._xcap.setdefault(str(account_id), MemoryXCAPStorage())
