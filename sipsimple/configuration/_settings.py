"""Setting descriptors and settings groups.

A settings *container* is either a SettingsObject (the root, stored under one configuration key) or a
SettingsGroup nested in it. Values live in one flat dict on the root, keyed by dotted name
(``'sip.transport_list'``); a group accessed on an instance (``settings.sip``) is a lightweight view
``(root, prefix)`` onto that dict, so groups never own state and can be re-created at will (e.g. after
an extension added settings to a group).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from sipsimple.configuration._values import DefaultValue, coerce

if TYPE_CHECKING:
    from sipsimple.configuration._object import SettingsObject

__all__ = ["CorrelatedSetting", "RuntimeSetting", "Setting", "SettingsGroup", "SettingsGroupMeta"]


class Setting:
    """A typed setting: ``Setting(type=Port, default=5060, nillable=False)``.

    Assigning converts the value to ``type`` (a ValueError names the setting when it cannot be),
    ``None`` is accepted only when ``nillable``, ``DefaultValue`` (or ``del``) returns it to the default.
    """

    persistent: ClassVar[bool] = True

    def __init__(self, type: type, default: Any = None, nillable: bool = False) -> None:
        self.type = type
        self.nillable = nillable
        self.name = ""
        if default is None and not nillable:
            raise TypeError(f"a {type.__name__} setting without a default must be nillable")
        self.default = None if default is None else coerce(type, default)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: _Container | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._root_._values_.get(instance._prefix_ + self.name, self.default)

    def __set__(self, instance: _Container, value: Any) -> None:
        dotted = instance._prefix_ + self.name
        root = instance._root_
        if value is DefaultValue:
            root._values_.pop(dotted, None)
        else:
            root._values_[dotted] = self.validate(value, dotted)
        root._stored_errors_.pop(dotted, None)

    def __delete__(self, instance: _Container) -> None:
        self.__set__(instance, DefaultValue)

    def validate(self, value: Any, dotted_name: str) -> Any:
        if value is None:
            if not self.nillable:
                raise ValueError(f"setting {dotted_name} cannot be None")
            return None
        try:
            return coerce(self.type, value)
        except ValueError as e:
            raise ValueError(f"invalid value for setting {dotted_name}: {e}") from None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(type={self.type.__name__}, default={self.default!r}, "
            f"nillable={self.nillable})"
        )


class RuntimeSetting(Setting):
    """A setting that is reported when it changes but never written to storage."""

    persistent = False


class CorrelatedSetting(Setting):
    """A setting whose validity depends on a sibling setting.

    ``validator(value, sibling_value)`` raises ValueError when the pair is invalid. The pair is checked
    by ``save()`` (not on assignment, so both can be changed one after the other).
    """

    def __init__(
        self,
        type: type,
        correlation: str,
        validator: Callable[[Any, Any], None],
        default: Any = None,
        nillable: bool = False,
    ) -> None:
        super().__init__(type, default, nillable)
        self.correlation = correlation
        self.validator = validator

    def check(self, container: _Container) -> None:
        value = self.__get__(container)
        other = getattr(container, self.correlation)
        try:
            self.validator(value, other)
        except ValueError as e:
            raise ValueError(
                f"setting {container._prefix_}{self.name}={value!r} does not fit "
                f"{container._prefix_}{self.correlation}={other!r}: {e}"
            ) from None


class _Container:
    """What Setting descriptors need from the object they are accessed on."""

    _root_: SettingsObject
    _prefix_: str


class SettingsGroupMeta(type):
    """Metaclass of settings groups: a group class in a container's body acts as a descriptor."""

    _group_name_: str

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> None:
        super().__init__(name, bases, namespace)
        cls._group_name_ = ""

    def __set_name__(cls, owner: type, name: str) -> None:
        if cls._group_name_ and cls._group_name_ != name:
            raise TypeError(
                f"settings group {cls.__name__} is already used as {cls._group_name_!r}; subclass it to "
                f"use it as {name!r}"
            )
        cls._group_name_ = name

    def __get__(cls, instance: _Container | None, owner: type | None = None) -> Any:
        if instance is None:
            return cls
        key = instance._prefix_ + cls._group_name_
        views = instance._root_._views_
        view = views.get(key)
        if type(view) is not cls:
            view = views[key] = object.__new__(cls)  # type: ignore[arg-type]
            object.__setattr__(view, "_root_", instance._root_)
            object.__setattr__(view, "_prefix_", key + ".")
        return view

    def __set__(cls, instance: _Container, value: Any) -> None:
        raise AttributeError(
            f"settings group {cls._group_name_} cannot be replaced; set its settings instead"
        )


class SettingsGroup(_Container, metaclass=SettingsGroupMeta):
    """A named group of settings (and nested groups) inside a settings object.

    Define one by subclassing and listing Settings as class attributes; put the class in a settings
    object's (or another group's) body. Groups are never instantiated directly.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> SettingsGroup:
        raise TypeError(f"settings group {cls.__name__} is accessed through its settings object")

    def __setattr__(self, name: str, value: Any) -> None:
        if not hasattr(type(self), name):
            raise AttributeError(f"{self._prefix_}{name} is not a setting of {type(self).__name__}")
        super().__setattr__(name, value)

    def __repr__(self) -> str:
        return f"<settings group {self._prefix_[:-1]} of {self._root_!r}>"


def iter_settings(container: type, prefix: str = "") -> Iterator[tuple[str, Setting]]:
    """Every (dotted name, Setting) of a container class, groups expanded, in declaration order."""
    names: dict[str, Any] = {}
    for klass in reversed(container.__mro__):
        for name, value in klass.__dict__.items():
            if not name.startswith("__"):
                names[name] = value  # a subclass's definition wins, the first position is kept
    for name, value in names.items():
        if isinstance(value, Setting):
            yield prefix + name, value
        elif isinstance(value, SettingsGroupMeta):
            yield from iter_settings(value, f"{prefix}{name}.")


def merge_settings(target: type, source: type) -> None:
    """Add the settings and groups declared in ``source`` to the container class ``target``.

    A group that exists on both sides is replaced on ``target`` by a subclass holding the union.
    """
    for name, value in source.__dict__.items():
        if name.startswith("__"):
            continue
        if isinstance(value, Setting):
            setattr(target, name, value)
            value.__set_name__(target, name)
        elif isinstance(value, SettingsGroupMeta):
            existing = getattr(target, name, None)
            if isinstance(existing, SettingsGroupMeta):
                merged = SettingsGroupMeta(
                    existing.__name__, (existing,), {"__module__": existing.__module__}
                )
                merge_settings(merged, value)
                value = merged
            type.__setattr__(target, name, value)
            value.__set_name__(target, name)
