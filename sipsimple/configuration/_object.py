"""Settings objects: the roots of the settings tree, each stored under one configuration key.

Identity: a class whose ``__id__`` is a string has one instance (e.g. ``SIPSimpleSettings``); a class whose
``__id__`` is a ``SettingsObjectID(type=...)`` has one instance per id (e.g. accounts, stored under
``[__group__, id]``). Calling the class with an id returns the existing instance for it.

Life cycle and notifications (sender: the object; every data has ``timestamp``):
* instantiation loads the stored state, if any, and posts ``CFGSettingsObjectWasActivated``;
* the first successful ``save()`` of an object that was not stored posts ``CFGSettingsObjectWasCreated``;
* a later ``save()`` that changed something posts ``CFGSettingsObjectDidChangeID`` (``old_id``, ``new_id``)
  if the id changed, then ``CFGSettingsObjectDidChange`` with ``modified``: dotted setting name ->
  ``ModifiedValue(old, new)``;
* ``delete()`` posts ``CFGSettingsObjectWasDeleted``;
* if storage fails, ``CFGManagerSaveFailed`` (``object``, ``operation``, ``modified``, ``exception``) is
  posted by the ConfigurationManager as sender, the in-memory configuration is rolled back to what is on
  disk, and the object keeps its unsaved changes so that a later ``save()`` retries them.

Stored values that cannot be read (written by another version, edited by hand) are logged, the setting
keeps its default, and the stored text is preserved on the next save unless the setting is assigned.
Stored keys that no setting declares are preserved as well.
"""

from __future__ import annotations

import copy
import logging
import threading
from typing import Any, ClassVar

from sipsimple.configuration._manager import ConfigurationError, ConfigurationManager
from sipsimple.configuration._settings import (
    CorrelatedSetting,
    Setting,
    iter_settings,
    merge_settings,
)
from sipsimple.configuration._values import ModifiedValue, coerce, dump, load
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.util import ISOTimestamp

__all__ = [
    "SettingsObject",
    "SettingsObjectExtension",
    "SettingsObjectID",
    "SettingsObjectImmutableID",
    "SettingsObjectMeta",
]

log = logging.getLogger(__name__)

_MISSING = object()


class SettingsObjectID:
    """Declares that a settings object class has one instance per id of the given type."""

    immutable: ClassVar[bool] = False

    def __init__(self, type: type) -> None:
        self.type = type

    def convert(self, value: Any) -> Any:
        try:
            return coerce(self.type, value)
        except ValueError as e:
            raise ValueError(f"invalid id: {e}") from None

    def __get__(self, instance: SettingsObject | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._id_

    def __set__(self, instance: SettingsObject, value: Any) -> None:
        if self.immutable:
            raise AttributeError(f"the id of a {type(instance).__name__} cannot be changed")
        new_id = self.convert(value)
        if new_id != instance._id_:
            type(instance)._move_instance_(instance, new_id)


class SettingsObjectImmutableID(SettingsObjectID):
    """Like SettingsObjectID, but the id cannot be changed after creation."""

    immutable = True


class SettingsObjectMeta(type):
    """Metaclass of settings objects: per-id instances, loaded from the ConfigurationManager."""

    _instances_: dict[Any, SettingsObject]
    _registry_lock: ClassVar[threading.RLock] = threading.RLock()
    _layouts_: ClassVar[dict[type, tuple[tuple[str, Setting], ...]]] = {}

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> None:
        super().__init__(name, bases, namespace)
        cls._instances_ = {}

    def _id_spec_(cls) -> str | SettingsObjectID:
        spec = getattr(cls, "__id__", None)
        if not isinstance(spec, (str, SettingsObjectID)):
            raise TypeError(f"{cls.__name__} has no __id__: set it to a string or a SettingsObjectID")
        return spec

    def __call__(cls, id: Any = None, *args: Any, **kwargs: Any) -> Any:
        spec = cls._id_spec_()
        if isinstance(spec, str):
            if id is not None and id != spec:
                raise TypeError(f"{cls.__name__} has the fixed id {spec!r}")
            id = spec
        elif id is None:
            raise TypeError(f"{cls.__name__} needs an id")
        else:
            id = spec.convert(id)
        with SettingsObjectMeta._registry_lock:
            instance = cls._instances_.get(id)
            if instance is not None:
                return instance
            manager = ConfigurationManager()
            if not manager.started:
                raise ConfigurationError(
                    f"cannot load {cls.__name__}: the ConfigurationManager is not started"
                )
            instance = object.__new__(cls)  # type: ignore[arg-type]
            instance._setup_(id, manager)
            cls._instances_[id] = instance
        try:
            if isinstance(spec, str):
                instance.__init__(*args, **kwargs)
            else:
                instance.__init__(id, *args, **kwargs)
        except BaseException:
            with SettingsObjectMeta._registry_lock:
                cls._instances_.pop(id, None)
            raise
        instance._post_("CFGSettingsObjectWasActivated")
        return instance

    def _move_instance_(cls, instance: SettingsObject, new_id: Any) -> None:
        with SettingsObjectMeta._registry_lock:
            if new_id in cls._instances_:
                raise ValueError(f"a {cls.__name__} with id {new_id!r} already exists")
            del cls._instances_[instance._id_]
            cls._instances_[new_id] = instance
            instance._id_ = new_id

    def _layout_(cls) -> tuple[tuple[str, Setting], ...]:
        layout = SettingsObjectMeta._layouts_.get(cls)
        if layout is None:
            layout = SettingsObjectMeta._layouts_[cls] = tuple(iter_settings(cls))
        return layout

    def _forget_instances_(cls) -> None:
        """Drop every instance of this class (for tests and for a ConfigurationManager restart)."""
        with SettingsObjectMeta._registry_lock:
            cls._instances_.clear()


class SettingsObject(metaclass=SettingsObjectMeta):
    """Base of the classes that hold a set of settings stored under one configuration key.

    Subclass it with ``__id__`` (a string, or ``SettingsObjectID(type=...)`` with ``id = __id__`` to expose
    it), an optional ``__group__`` (the key under which the per-id instances are stored), and Settings
    and SettingsGroups as class attributes.
    """

    __group__: ClassVar[str | None] = None
    _prefix_: ClassVar[str] = ""

    _id_: Any
    _saved_id_: Any
    _values_: dict[str, Any]
    _saved_values_: dict[str, Any]
    _views_: dict[str, Any]
    _stored_state_: dict[str, Any]
    _stored_errors_: dict[str, str]
    _persisted_: bool
    _manager_: ConfigurationManager

    def __init__(self, id: Any = None) -> None:
        """Subclasses may extend this; it runs once, when the instance for an id is first created."""

    @property
    def _root_(self) -> SettingsObject:
        return self

    def _setup_(self, id: Any, manager: ConfigurationManager) -> None:
        self._id_ = self._saved_id_ = id
        self._values_ = {}
        self._views_ = {}
        self._stored_errors_ = {}
        self._manager_ = manager
        state = manager.get(self._key_(id), default=None)
        self._persisted_ = state is not None
        self._stored_state_ = state if isinstance(state, dict) else {}
        self._apply_state_(self._stored_state_)
        self._saved_values_ = dict(self._values_)

    @classmethod
    def _key_(cls, id: Any) -> list[str]:
        return [cls.__group__, str(id)] if cls.__group__ else [str(id)]

    def _apply_state_(self, state: dict[str, Any]) -> None:
        for dotted, setting in type(self)._layout_():
            if not setting.persistent:
                continue
            raw = _lookup(state, dotted.split("."))
            if raw is _MISSING:
                continue
            try:
                self._values_[dotted] = setting.validate(load(setting.type, raw), dotted)
            except ValueError as e:
                self._stored_errors_[dotted] = f"the stored value {raw!r} is invalid ({e})"
                log.warning(
                    "%s %s: ignoring stored value %r (%s); it is kept in storage", self, dotted, raw, e
                )

    # public API ----------------------------------------------------------------------------------

    def stored_value_error(self, dotted: str) -> str | None:
        """Why the stored value of setting ``dotted`` was ignored when this object was loaded (the
        setting then holds its default), or None. Assigning the setting clears it."""
        return self._stored_errors_.get(dotted)

    def get_modified(self) -> dict[str, ModifiedValue]:
        """The settings changed since the last save, as dotted name -> ModifiedValue(old, new)."""
        modified = {}
        for dotted, setting in type(self)._layout_():
            old = self._saved_values_.get(dotted, setting.default)
            new = self._values_.get(dotted, setting.default)
            if old != new or type(old) is not type(new):
                modified[dotted] = ModifiedValue(old, new)
        return modified

    def save(self) -> None:
        """Store the settings; see the module documentation for the notifications."""
        self._check_correlations_()
        modified = self.get_modified()
        old_id, new_id = self._saved_id_, self._id_
        if self._persisted_ and old_id == new_id and self._values_ == self._saved_values_:
            return
        state = self._build_state_()
        try:
            self._manager_.store(self._key_(old_id) if self._persisted_ else None, self._key_(new_id), state)
        except Exception as e:
            self._post_save_failed_("save", modified, e)
            return
        was_new = not self._persisted_
        self._persisted_ = True
        self._stored_state_ = state
        self._saved_values_ = dict(self._values_)
        self._saved_id_ = new_id
        if was_new:
            self._post_("CFGSettingsObjectWasCreated")
            return
        if old_id != new_id:
            self._post_("CFGSettingsObjectDidChangeID", old_id=old_id, new_id=new_id)
        if modified:
            self._post_("CFGSettingsObjectDidChange", modified=modified)

    def delete(self) -> None:
        """Remove the object from storage and forget it; a new instance with its id starts from defaults."""
        cls = type(self)
        if isinstance(cls._id_spec_(), str):
            raise TypeError(f"{cls.__name__} has a fixed id and cannot be deleted")
        if self._persisted_:
            try:
                self._manager_.store(self._key_(self._saved_id_), None, None)
            except Exception as e:
                self._post_save_failed_("delete", {}, e)
                return
            self._persisted_ = False
        with SettingsObjectMeta._registry_lock:
            if cls._instances_.get(self._id_) is self:
                del cls._instances_[self._id_]
        self._post_("CFGSettingsObjectWasDeleted")

    def clone(self, new_id: Any) -> SettingsObject:
        """A new, unsaved object of the same class with id ``new_id`` and a copy of these settings."""
        cls = type(self)
        spec = cls._id_spec_()
        if isinstance(spec, str):
            raise TypeError(f"{cls.__name__} has a fixed id and cannot be cloned")
        new_id = spec.convert(new_id)
        if new_id in cls._instances_ or self._manager_.get(cls._key_(new_id), default=None) is not None:
            raise ValueError(f"a {cls.__name__} with id {new_id!r} already exists")
        clone = cls(new_id)
        clone._values_.update(self._values_)
        return clone

    @classmethod
    def register_extension(cls, extension: type) -> None:
        """Add the settings and groups of a SettingsObjectExtension subclass to this class."""
        if not (isinstance(extension, type) and issubclass(extension, SettingsObjectExtension)):
            raise TypeError(f"{extension!r} is not a SettingsObjectExtension subclass")
        merge_settings(cls, extension)
        SettingsObjectMeta._layouts_.clear()
        for instance in list(cls._instances_.values()):
            instance._apply_state_(_without(instance._stored_state_, instance._values_))
            instance._saved_values_.update(
                {k: v for k, v in instance._values_.items() if k not in instance._saved_values_}
            )

    def __repr__(self) -> str:
        spec = type(self)._id_spec_()
        return (
            f"{type(self).__name__}()" if isinstance(spec, str) else f"{type(self).__name__}({self._id_!r})"
        )

    # helpers -------------------------------------------------------------------------------------

    def _check_correlations_(self) -> None:
        for dotted, setting in type(self)._layout_():
            if isinstance(setting, CorrelatedSetting):
                container: Any = self
                for part in dotted.split(".")[:-1]:
                    container = getattr(container, part)
                setting.check(container)

    def _build_state_(self) -> dict[str, Any]:
        state = copy.deepcopy(self._stored_state_)
        for dotted, setting in type(self)._layout_():
            if not setting.persistent:
                continue
            path = dotted.split(".")
            if dotted in self._values_:
                _assign(state, path, dump(self._values_[dotted]))
            elif dotted in self._saved_values_:
                _remove(state, path)
        return state

    def _post_(self, name: str, **attributes: Any) -> None:
        data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
        NotificationCenter().post_notification(name, sender=self, data=data)

    def _post_save_failed_(
        self, operation: str, modified: dict[str, ModifiedValue], error: Exception
    ) -> None:
        log.error("could not %s %r: %s", operation, self, error)
        data = NotificationData(
            timestamp=ISOTimestamp.now(), object=self, operation=operation, modified=modified, exception=error
        )
        NotificationCenter().post_notification("CFGManagerSaveFailed", sender=self._manager_, data=data)


class SettingsObjectExtension:
    """Base of classes whose settings and groups are added to a SettingsObject class with
    ``SomeSettings.register_extension(MyExtension)`` (for application-specific settings)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> SettingsObjectExtension:
        raise TypeError("settings object extensions are registered, not instantiated")


def _lookup(tree: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(tree, dict) or part not in tree:
            return _MISSING
        tree = tree[part]
    return tree


def _assign(tree: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = tree.get(part)
        if not isinstance(child, dict):
            child = tree[part] = {}
        tree = child
    tree[path[-1]] = value


def _remove(tree: dict[str, Any], path: list[str]) -> None:
    parents: list[tuple[dict[str, Any], str]] = []
    for part in path[:-1]:
        child = tree.get(part)
        if not isinstance(child, dict):
            return
        parents.append((tree, part))
        tree = child
    tree.pop(path[-1], None)
    for parent, part in reversed(parents):
        if parent[part]:
            break
        del parent[part]


def _without(state: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``state`` minus the dotted names present in ``values`` (so loading never overrides them)."""
    result = copy.deepcopy(state)
    for dotted in values:
        _remove(result, dotted.split("."))
    return result
