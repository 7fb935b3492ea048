"""Storage: FileStorage and MemoryStorage provide a configuration backend and per-account XCAP storage."""

from __future__ import annotations

import os
import stat

import pytest
from zope.interface.verify import verifyClass, verifyObject

from sipsimple.configuration.backend import IConfigurationBackend
from sipsimple.configuration.backend.file import FileBackend
from sipsimple.storage import (
    FileStorage,
    FileXCAPStorage,
    ISIPSimpleStorage,
    IXCAPStorage,
    MemoryStorage,
    MemoryXCAPStorage,
    XCAPStorageError,
)


@pytest.fixture(params=["file", "memory"])
def storage(request, tmp_path):
    return FileStorage(tmp_path / "profile") if request.param == "file" else MemoryStorage()


def test_storage_classes_implement_their_interfaces(storage):
    verifyClass(ISIPSimpleStorage, type(storage))
    verifyObject(ISIPSimpleStorage, storage)
    verifyObject(IConfigurationBackend, storage.configuration_backend)
    verifyClass(IXCAPStorage, FileXCAPStorage)
    verifyClass(IXCAPStorage, MemoryXCAPStorage)
    verifyObject(IXCAPStorage, storage.xcap_storage_factory("alice@example.com"))


def test_configuration_backend_round_trips(storage):
    storage.configuration_backend.save({"A": {"b": ["c"]}})
    assert storage.configuration_backend.load() == {"A": {"b": ["c"]}}


def test_xcap_storage_keeps_documents_per_account(storage):
    alice = storage.xcap_storage_factory("alice@example.com")
    bob = storage.xcap_storage_factory("bob@example.com")
    alice.save("resource-lists", b"<lists/>")
    assert alice.load("resource-lists") == b"<lists/>"
    with pytest.raises(XCAPStorageError):
        bob.load("resource-lists")
    assert storage.xcap_storage_factory("alice@example.com").load("resource-lists") == b"<lists/>"
    alice.delete("resource-lists")
    alice.delete("resource-lists")  # deleting twice is fine
    with pytest.raises(XCAPStorageError):
        alice.load("resource-lists")


def test_purge_forgets_every_document(storage):
    xcap = storage.xcap_storage_factory("alice@example.com")
    xcap.save("a", b"1")
    xcap.save("b", b"2")
    xcap.purge()
    for name in ("a", "b"):
        with pytest.raises(XCAPStorageError):
            xcap.load(name)


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".", "..", "doc.tmp"])
def test_xcap_document_names_cannot_escape_the_account_directory(storage, name):
    with pytest.raises(XCAPStorageError):
        storage.xcap_storage_factory("alice@example.com").save(name, b"x")


def test_file_storage_layout_and_modes(tmp_path):
    storage = FileStorage(tmp_path / "profile")
    assert isinstance(storage.configuration_backend, FileBackend)
    storage.configuration_backend.save({})
    storage.xcap_storage_factory("alice@example.com").save("journal", b"[]")
    config = tmp_path / "profile" / "config"
    document = tmp_path / "profile" / "xcap" / "alice@example.com" / "journal"
    assert config.is_file() and document.read_bytes() == b"[]"
    assert stat.S_IMODE(os.stat(document).st_mode) == 0o600


def test_file_storage_expands_the_user_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert FileStorage("~/profile").directory == str(tmp_path / "profile")
