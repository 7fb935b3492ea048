"""``ContactURIFactory``: the Contact URIs of one account, one per transport.

The user part is chosen once (8 random lowercase letters unless given) and stays the same for
every transport, so an incoming request can be matched to its account by that user part alone
(``AccountManager.find_account``). Host and port come from the engine's listening address for the
transport, asked for at each lookup (the engine may have restarted on other ports).
"""

from __future__ import annotations

import random
import string
from typing import TYPE_CHECKING, Any

from sipsimple.core.sip.uri import SIPURI

if TYPE_CHECKING:
    from sipsimple.core.primitives._client import EngineAPI

__all__ = ["ContactURIFactory"]

_system_random = random.SystemRandom()


def random_username(length: int = 8) -> str:
    return "".join(_system_random.choice(string.ascii_lowercase) for _ in range(length))


class ContactURIFactory:
    """``factory['udp']`` or ``factory[route]`` (anything with a ``transport`` attribute) -> SIPURI.

    ``KeyError`` when the engine has no listening address for that transport (not started, or the
    transport is off). ``engine`` defaults to the process-wide ``Engine()``; the AccountManager gives
    each account's factory the engine it manages.
    """

    def __init__(self, username: str | None = None, engine: EngineAPI | None = None) -> None:
        self.username = username if username is not None else random_username()
        self.engine = engine

    def _engine(self) -> EngineAPI:
        if self.engine is None:
            from sipsimple.core.engine import Engine

            return Engine()
        return self.engine

    def __getitem__(self, key: Any) -> SIPURI:
        transport = key if isinstance(key, str) else getattr(key, "transport", None)
        if not isinstance(transport, str):
            raise KeyError(key)
        transport = transport.lower()
        engine = self._engine()
        address = engine.local_address(transport) if engine.is_running else None
        if address is None:
            raise KeyError(transport)
        parameters = {} if transport == "udp" else {"transport": transport}
        return SIPURI(address.host, user=self.username, port=address.port, parameters=parameters)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(username={self.username})"
