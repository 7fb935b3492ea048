"""The exceptions of the core's public API (names as in the reference SDK)."""

from __future__ import annotations

__all__ = ["SIPCoreError", "SIPCoreInvalidStateError"]


class SIPCoreError(Exception):
    """The core cannot do what was asked: the engine is not running, an argument is unusable..."""


class SIPCoreInvalidStateError(SIPCoreError):
    """A method was called in a state that does not allow it (sending a Message twice, say)."""
