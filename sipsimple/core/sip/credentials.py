"""Credentials for digest authentication: ``Credentials`` (mutable) and ``FrozenCredentials``.

They are plain values; the digest computation lives with the authentication code. The password
never appears in ``repr``.
"""

from __future__ import annotations

from typing import Any, NoReturn, Self

__all__ = ["BaseCredentials", "Credentials", "FrozenCredentials"]


class BaseCredentials:
    __slots__ = ("password", "realm", "username")

    username: str
    password: str
    realm: str

    def __init__(self, username: str, password: str, realm: str = "*") -> None:
        object.__setattr__(self, "username", username)
        object.__setattr__(self, "password", password)
        object.__setattr__(self, "realm", realm)

    @classmethod
    def new(cls, credentials: BaseCredentials) -> Self:
        """A ``cls`` with the same values (``FrozenCredentials.new(credentials)`` and back)."""
        return cls(credentials.username, credentials.password, credentials.realm)

    def _key(self) -> tuple[str, str, str]:
        return self.username, self.password, self.realm

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BaseCredentials):
            return self._key() == other._key()
        return NotImplemented

    def __repr__(self) -> str:
        realm = "" if self.realm == "*" else f" in realm {self.realm!r}"
        return f"<{type(self).__name__} for {self.username!r}{realm}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), self._key()


class Credentials(BaseCredentials):
    """``Credentials(username, password, realm='*')``; '*' means any realm."""

    __slots__ = ()


class FrozenCredentials(BaseCredentials):
    """Immutable, hashable Credentials."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("FrozenCredentials is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("FrozenCredentials is immutable")

    def __hash__(self) -> int:
        return hash(self._key())
