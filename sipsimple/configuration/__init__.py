"""The configuration API: typed settings grouped in settings objects, stored through a backend.

``Setting``/``CorrelatedSetting``/``RuntimeSetting`` declare settings, ``SettingsGroup`` groups them,
``SettingsObject`` is a root stored under one key (one instance per id), ``ConfigurationManager`` holds
the loaded tree and writes it through a backend (``sipsimple.configuration.backend``). Datatypes for
settings are in ``sipsimple.configuration.datatypes``; the SDK's own settings in
``sipsimple.configuration.settings``.
"""

from sipsimple.configuration._manager import ConfigurationError, ConfigurationManager
from sipsimple.configuration._object import (
    SettingsObject,
    SettingsObjectExtension,
    SettingsObjectID,
    SettingsObjectImmutableID,
    SettingsObjectMeta,
)
from sipsimple.configuration._settings import (
    CorrelatedSetting,
    RuntimeSetting,
    Setting,
    SettingsGroup,
    SettingsGroupMeta,
)
from sipsimple.configuration._values import DefaultValue, ModifiedValue

__all__ = [
    "ConfigurationError",
    "ConfigurationManager",
    "CorrelatedSetting",
    "DefaultValue",
    "ModifiedValue",
    "RuntimeSetting",
    "Setting",
    "SettingsGroup",
    "SettingsGroupMeta",
    "SettingsObject",
    "SettingsObjectExtension",
    "SettingsObjectID",
    "SettingsObjectImmutableID",
    "SettingsObjectMeta",
]
