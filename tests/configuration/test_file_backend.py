"""FileBackend: the text format, atomic writes, file mode, corrupt and unreadable files."""

from __future__ import annotations

import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface.verify import verifyObject

from sipsimple.configuration import ConfigurationError, ConfigurationManager, Setting, SettingsObject
from sipsimple.configuration.backend import ConfigurationBackendError, IConfigurationBackend
from sipsimple.configuration.backend.file import FileBackend, dumps, loads
from sipsimple.configuration.backend.memory import MemoryBackend


def test_backends_implement_the_interface(tmp_path):
    verifyObject(IConfigurationBackend, FileBackend(tmp_path / "config"))
    verifyObject(IConfigurationBackend, MemoryBackend())


def test_a_missing_file_loads_as_an_empty_configuration(tmp_path):
    assert FileBackend(tmp_path / "absent").load() == {}


def test_the_text_form_is_readable_and_round_trips():
    data = {
        "Accounts": {"alice@example.com": {"enabled": "true", "sip": {"proxy": None}}},
        "odd name = x": {"list": ["a", "b c", "ünïcode"], "multi\nline": "line1\nline2"},
        "empty": {},
    }
    text = dumps(data)
    assert "  alice@example.com:\n" in text
    assert '    enabled = "true"\n' in text
    assert '"odd name = x":' in text
    assert loads(text) == data


tree_names = st.text(min_size=1, max_size=12)
leaves = st.none() | st.text(max_size=20) | st.lists(st.text(max_size=8), max_size=4)
trees = st.recursive(
    st.dictionaries(tree_names, leaves, max_size=4),
    lambda children: st.dictionaries(tree_names, children | leaves, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_any_configuration_tree_round_trips_through_the_text_form(tree):
    assert loads(dumps(tree)) == tree


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parsing_arbitrary_text_either_succeeds_or_raises_value_error(text):
    try:
        result = loads(text)
    except ValueError:
        return
    assert isinstance(result, dict)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = 1\n", "string"),
        ('a:\n    b = "x"\n', "deeper"),
        (' a = "x"\n', "multiple of 2"),
        ('a = "x"\na = "y"\n', "twice"),
        ("a b\n", "expected"),
        ("a = [1]\n", "list of strings"),
        ('a = "unterminated\n', "bad value"),
        ('\ta = "x"\n', "tabs"),
    ],
)
def test_syntax_errors_name_the_line_and_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        loads(text)


def test_save_writes_mode_0600_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "config"
    backend = FileBackend(path)
    backend.save({"A": {"b": "c"}})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(os.listdir(path.parent)) == ["config"]
    assert backend.load() == {"A": {"b": "c"}}


def test_save_replaces_the_file_even_when_a_stale_temporary_file_exists(tmp_path):
    path = tmp_path / "config"
    (tmp_path / "config.tmp").write_text("garbage from a killed writer")
    FileBackend(path).save({"A": {"b": "c"}})
    assert FileBackend(path).load() == {"A": {"b": "c"}}


def test_a_corrupt_file_is_moved_aside_and_reported(tmp_path, recorder):
    path = tmp_path / "config"
    path.write_bytes(b"Accounts:\n  this line is not valid\n")
    manager = ConfigurationManager()
    manager.stop()
    with pytest.raises(ConfigurationError, match="moved to"):
        manager.start(FileBackend(path))
    [failed] = recorder.named("CFGManagerLoadFailed")
    assert isinstance(failed.data.exception, ConfigurationBackendError)
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith("config.corrupt-")]
    assert aside.read_bytes() == b"Accounts:\n  this line is not valid\n"
    assert not path.exists()
    manager.start(FileBackend(path))  # a retry starts with an empty configuration
    assert manager.get_names([]) == []
    manager.stop()


def test_a_file_that_is_not_utf8_is_moved_aside(tmp_path):
    path = tmp_path / "config"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigurationBackendError, match="moved to"):
        FileBackend(path).load()
    assert not path.exists()


def test_an_unreadable_file_is_reported_and_left_in_place(tmp_path):
    path = tmp_path / "config"
    path.mkdir()  # reading a directory fails with an OSError, as a permission problem would
    with pytest.raises(ConfigurationBackendError, match="cannot read"):
        FileBackend(path).load()
    assert path.is_dir()


def test_a_write_failure_raises_backend_error(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(ConfigurationBackendError, match="cannot write"):
        FileBackend(blocker / "config").save({})


class Persistent(SettingsObject):
    __id__ = "Persistent"
    text = Setting(type=str, default="")
    numbers = Setting(type=int, default=0)


def test_settings_round_trip_through_the_file_backend_unchanged(tmp_path):
    manager = ConfigurationManager()
    manager.stop()
    backend = FileBackend(tmp_path / "config")
    manager.start(backend)
    settings = Persistent()
    settings.text = 'quotes " and = and \n newline and ünïcode'
    settings.numbers = -5
    settings.save()
    manager.stop()
    manager.start(FileBackend(tmp_path / "config"))
    reloaded = Persistent()
    assert (reloaded.text, reloaded.numbers) == ('quotes " and = and \n newline and ünïcode', -5)
    manager.stop()
