"""Settings, groups and settings objects: values, ids, save/delete/clone, notifications, extensions."""

from __future__ import annotations

import pytest

from sipsimple.configuration import (
    ConfigurationError,
    ConfigurationManager,
    CorrelatedSetting,
    DefaultValue,
    ModifiedValue,
    RuntimeSetting,
    Setting,
    SettingsGroup,
    SettingsObject,
    SettingsObjectExtension,
    SettingsObjectID,
    SettingsObjectImmutableID,
)
from sipsimple.configuration.backend import ConfigurationBackendError
from sipsimple.configuration.backend.memory import MemoryBackend


def _check_range(high, low):
    """validator(value, correlated value): high must not be below low."""
    if low > high:
        raise ValueError("low must not exceed high")


class Global(SettingsObject):
    __id__ = "Global"

    name = Setting(type=str, default="sipsimple")
    verbose = Setting(type=bool, default=False)
    session_counter = RuntimeSetting(type=int, default=0)

    class network(SettingsGroup):
        port = Setting(type=int, default=5060)
        proxy = Setting(type=str, default=None, nillable=True)
        low = Setting(type=int, default=1)
        high = CorrelatedSetting(type=int, correlation="low", validator=_check_range, default=10)

        class tls(SettingsGroup):
            verify = Setting(type=bool, default=True)


class Profile(SettingsObject):
    __group__ = "Profiles"
    __id__ = SettingsObjectID(type=str)
    id = __id__

    enabled = Setting(type=bool, default=False)
    network = Global.network


class Device(SettingsObject):
    __group__ = "Devices"
    __id__ = SettingsObjectImmutableID(type=str)
    id = __id__

    volume = Setting(type=int, default=50)


pytestmark = pytest.mark.usefixtures("memory_configuration")


def test_defaults_are_returned_until_a_value_is_set(memory_configuration):
    settings = Global()
    assert (settings.name, settings.network.port, settings.network.proxy) == ("sipsimple", 5060, None)
    assert settings.network.tls.verify is True


def test_class_access_returns_the_setting_descriptor():
    assert isinstance(Global.network.port, Setting)
    assert Global.network.port.default == 5060


def test_values_are_converted_to_the_setting_type_and_bad_values_name_the_setting():
    settings = Global()
    settings.network.port = "5070"
    settings.verbose = "yes"
    assert settings.network.port == 5070 and settings.verbose is True
    with pytest.raises(ValueError, match="network.port"):
        settings.network.port = "not a port"
    with pytest.raises(ValueError, match="network.port"):
        settings.network.port = 5.5
    with pytest.raises(ValueError, match="verbose"):
        settings.verbose = "maybe"
    with pytest.raises(ValueError, match="cannot be None"):
        settings.name = None
    assert settings.network.port == 5070


def test_default_value_and_del_reset_to_default():
    settings = Global()
    settings.network.port = 1
    settings.network.port = DefaultValue
    assert settings.network.port == 5060
    settings.name = "x"
    del settings.name
    assert settings.name == "sipsimple"


def test_unknown_attribute_on_a_group_is_an_error_not_a_silent_new_attribute():
    with pytest.raises(AttributeError, match="network.prot"):
        Global().network.prot = 1


def test_groups_cannot_be_replaced_or_instantiated():
    settings = Global()
    with pytest.raises(AttributeError):
        settings.network = None
    with pytest.raises(TypeError):
        Global.network()


def test_a_setting_without_default_must_be_nillable():
    with pytest.raises(TypeError):
        Setting(type=int)


def test_fixed_id_object_is_a_singleton_and_id_objects_are_one_per_id():
    assert Global() is Global()
    assert Profile("a") is Profile("a") and Profile("a") is not Profile("b")
    with pytest.raises(TypeError):
        Profile()
    with pytest.raises(TypeError):
        Global("other")


def test_instantiation_needs_a_started_manager():
    ConfigurationManager().stop()
    with pytest.raises(ConfigurationError):
        Global()


def test_first_save_posts_created_then_changes_post_did_change_with_exact_dotted_names(recorder):
    settings = Global()
    assert recorder.names() == ["CFGSettingsObjectWasActivated"]
    settings.name = "first"
    settings.save()
    assert recorder.names()[-1] == "CFGSettingsObjectWasCreated"
    recorder.clear()
    settings.network.port = 6000
    settings.network.tls.verify = False
    settings.name = "first"  # unchanged value
    settings.save()
    [changed] = recorder.notifications
    assert changed.name == "CFGSettingsObjectDidChange" and changed.sender is settings
    assert changed.data.modified == {
        "network.port": ModifiedValue(5060, 6000),
        "network.tls.verify": ModifiedValue(True, False),
    }
    assert changed.data.timestamp is not None


def test_saving_without_changes_posts_nothing(recorder):
    settings = Global()
    settings.save()
    recorder.clear()
    settings.save()
    settings.network.port = 7000
    settings.network.port = DefaultValue
    settings.save()
    assert recorder.notifications == []


def test_state_is_stored_under_the_object_key_with_only_explicit_values(memory_configuration):
    settings = Global()
    settings.network.proxy = "proxy.example.com"
    settings.verbose = False  # explicitly set, even though it equals the default
    settings.session_counter = 5  # runtime: never stored
    settings.save()
    assert memory_configuration.load() == {
        "Global": {"verbose": "false", "network": {"proxy": "proxy.example.com"}}
    }
    profile = Profile("alice")
    profile.network.port = 5080
    profile.save()
    assert memory_configuration.load()["Profiles"] == {"alice": {"network": {"port": "5080"}}}


def test_runtime_settings_are_reported_but_not_stored(recorder, memory_configuration):
    settings = Global()
    settings.save()
    recorder.clear()
    settings.session_counter = 3
    settings.save()
    assert recorder.notifications[0].data.modified == {"session_counter": ModifiedValue(0, 3)}
    assert "session_counter" not in memory_configuration.load()["Global"]


def test_values_survive_a_restart_of_the_manager(memory_configuration):
    settings = Global()
    settings.network.tls.verify = False
    settings.network.proxy = None
    settings.save()
    manager = ConfigurationManager()
    manager.stop()
    manager.start(memory_configuration)
    reloaded = Global()
    assert reloaded is not settings
    assert reloaded.network.tls.verify is False and reloaded.network.proxy is None


def test_bad_stored_values_keep_the_default_and_are_preserved_with_unknown_keys(caplog):
    manager = ConfigurationManager()
    manager.stop()
    backend = MemoryBackend({"Global": {"network": {"port": "not-a-number"}, "future_setting": "x"}})
    manager.start(backend)
    settings = Global()
    assert settings.network.port == 5060
    assert "not-a-number" in caplog.text
    settings.name = "changed"
    settings.save()
    stored = backend.load()["Global"]
    assert stored["network"]["port"] == "not-a-number"
    assert stored["future_setting"] == "x"
    settings.network.port = 5090
    settings.save()
    assert backend.load()["Global"]["network"]["port"] == "5090"


def test_resetting_to_default_removes_the_stored_value_and_empty_sections(memory_configuration):
    settings = Global()
    settings.network.tls.verify = False
    settings.save()
    settings.network.tls.verify = DefaultValue
    settings.save()
    assert memory_configuration.load() == {"Global": {}}


def test_correlated_settings_are_checked_on_save(memory_configuration):
    settings = Global()
    settings.network.low = 20  # high is 10: invalid until high changes too
    with pytest.raises(ValueError, match="network.high"):
        settings.save()
    settings.network.high = 30
    settings.save()
    assert memory_configuration.load()["Global"]["network"] == {"low": "20", "high": "30"}


def test_changing_the_id_renames_the_stored_object(recorder, memory_configuration):
    profile = Profile("old")
    profile.enabled = True
    profile.save()
    recorder.clear()
    profile.id = "new"
    assert Profile("new") is profile
    profile.save()
    assert list(memory_configuration.load()["Profiles"]) == ["new"]
    [changed_id] = recorder.notifications
    assert changed_id.name == "CFGSettingsObjectDidChangeID"
    assert (changed_id.data.old_id, changed_id.data.new_id) == ("old", "new")


def test_an_id_in_use_cannot_be_taken_and_immutable_ids_cannot_change():
    first, second = Profile("first"), Profile("second")
    with pytest.raises(ValueError, match="already exists"):
        second.id = "first"
    assert first.id == "first"
    with pytest.raises(AttributeError):
        Device("mic").id = "speaker"


def test_delete_removes_the_object_and_a_new_instance_starts_from_defaults(recorder, memory_configuration):
    profile = Profile("gone")
    profile.enabled = True
    profile.save()
    profile.delete()
    assert recorder.names()[-1] == "CFGSettingsObjectWasDeleted"
    assert "Profiles" not in memory_configuration.load()
    assert Profile("gone") is not profile and Profile("gone").enabled is False
    with pytest.raises(TypeError):
        Global().delete()


def test_clone_copies_settings_to_a_new_unsaved_object(memory_configuration):
    source = Profile("source")
    source.network.port = 5099
    source.save()
    clone = source.clone("copy")
    assert clone.network.port == 5099 and clone.id == "copy"
    assert "copy" not in memory_configuration.load()["Profiles"]
    with pytest.raises(ValueError, match="already exists"):
        source.clone("copy")


class _FailingBackend(MemoryBackend):
    fail = False

    def save(self, data):
        if self.fail:
            raise ConfigurationBackendError("disk full")
        super().save(data)


def test_a_failed_save_posts_save_failed_and_keeps_changes_for_a_retry(recorder):
    manager = ConfigurationManager()
    manager.stop()
    backend = _FailingBackend()
    manager.start(backend)
    settings = Global()
    settings.save()
    backend.fail = True
    settings.network.port = 6100
    settings.save()
    [failed] = recorder.named("CFGManagerSaveFailed")
    assert failed.sender is manager and failed.data.object is settings
    assert failed.data.operation == "save"
    assert failed.data.modified == {"network.port": ModifiedValue(5060, 6100)}
    assert "disk full" in str(failed.data.exception)
    assert manager.get(["Global"]) == {}  # in-memory tree still matches the stored one
    backend.fail = False
    settings.save()
    assert recorder.names()[-1] == "CFGSettingsObjectDidChange"
    assert backend.load()["Global"]["network"]["port"] == "6100"


def test_a_failed_delete_posts_save_failed_and_keeps_the_object(recorder):
    manager = ConfigurationManager()
    manager.stop()
    backend = _FailingBackend()
    manager.start(backend)
    profile = Profile("kept")
    profile.save()
    backend.fail = True
    profile.delete()
    assert recorder.named("CFGManagerSaveFailed")[0].data.operation == "delete"
    assert Profile("kept") is profile
    assert "kept" in backend.load()["Profiles"]


def test_extensions_add_settings_and_merge_groups_without_touching_other_classes(memory_configuration):
    class Extended(SettingsObject):
        __id__ = "Extended"

        class network(SettingsGroup):
            port = Setting(type=int, default=1)

    class Extension(SettingsObjectExtension):
        color = Setting(type=str, default="blue")

        class network(SettingsGroup):
            mtu = Setting(type=int, default=1500)

    memory_configuration.save({"Extended": {"network": {"mtu": "9000"}}})
    manager = ConfigurationManager()
    manager.stop()
    manager.start(memory_configuration)
    settings = Extended()
    settings.network.port = 2
    Extended.register_extension(Extension)
    assert (settings.color, settings.network.mtu, settings.network.port) == ("blue", 9000, 2)
    assert not hasattr(Global.network, "mtu")
    with pytest.raises(TypeError):
        Extended.register_extension(Global)
    with pytest.raises(TypeError):
        Extension()


def test_the_same_group_class_cannot_be_used_under_two_names():
    with pytest.raises((TypeError, RuntimeError)):

        class Broken(SettingsObject):
            __id__ = "Broken"
            other_name = Global.network


def test_manager_tree_operations(memory_configuration):
    manager = ConfigurationManager()
    manager.update(["A", "b", "c"], {"x": "1"})
    manager.update(["A", "d"], {"y": ["1", "2"]})
    assert manager.get_names(["A"]) == ["b", "d"]
    assert manager.get(["A", "b", "c", "x"]) == "1"
    manager.rename(["A", "d"], ["A", "e"])
    assert manager.get_names(["A"]) == ["b", "e"]
    manager.delete(["A", "b", "c"])
    assert manager.get_names(["A"]) == ["e"]
    with pytest.raises(KeyError):
        manager.get(["A", "b"])
    with pytest.raises(ValueError):
        manager.update(["A", "bad"], {"n": 1})
    manager.save()
    assert memory_configuration.load() == {"A": {"e": {"y": ["1", "2"]}}}


def test_manager_refuses_a_second_start_and_a_missing_backend():
    manager = ConfigurationManager()
    with pytest.raises(ConfigurationError, match="already started"):
        manager.start(MemoryBackend())
    manager.stop()
    with pytest.raises(ConfigurationError, match="backend"):
        manager.start()


def test_invalid_tree_from_a_backend_posts_load_failed(recorder):
    class Broken(MemoryBackend):
        def load(self):
            return {"A": 5}

    manager = ConfigurationManager()
    manager.stop()
    with pytest.raises(ConfigurationError):
        manager.start(Broken())
    [failed] = recorder.named("CFGManagerLoadFailed")
    assert isinstance(failed.data.exception, ValueError)
    assert not manager.started
