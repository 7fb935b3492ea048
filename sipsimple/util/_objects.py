"""Object-model helpers: the ``Singleton`` metaclass and the ``Null`` object."""

from __future__ import annotations

import threading
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


class Singleton(type):
    """Metaclass giving a class exactly one instance.

    The first call creates the instance (running ``__init__`` once); later calls return it and ignore
    their arguments. Creation is thread-safe. Each class in a hierarchy has its own instance.
    """

    _creation_lock: ClassVar[threading.RLock] = threading.RLock()

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> None:
        super().__init__(name, bases, namespace)
        cls._singleton_instance_ = None

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        instance = cls.__dict__.get("_singleton_instance_")
        if instance is None:
            with Singleton._creation_lock:
                instance = cls.__dict__.get("_singleton_instance_")
                if instance is None:
                    instance = super().__call__(*args, **kwargs)
                    cls._singleton_instance_ = instance
        return instance


class _NullType:
    """An object that absorbs everything: calls, attribute access, item access, iteration.

    Use it where an optional collaborator is absent, instead of ``if x is not None`` at each use.
    """

    _instance: ClassVar[_NullType | None] = None

    def __new__(cls) -> _NullType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Null"

    def __bool__(self) -> bool:
        return False

    def __call__(self, *args: Any, **kwargs: Any) -> _NullType:
        return self

    def __getattr__(self, name: str) -> _NullType:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        pass

    def __delattr__(self, name: str) -> None:
        pass

    def __getitem__(self, key: Any) -> _NullType:
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __delitem__(self, key: Any) -> None:
        pass

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Any:
        return iter(())

    def __contains__(self, item: Any) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return hash(_NullType)

    def __reduce__(self) -> str:
        return "Null"


Null = _NullType()
