"""The exceptions of ``sipsimple.core.sdp``."""

from __future__ import annotations

import enum

from sipsimple.core._errors import SIPCoreError

__all__ = [
    "Culprit",
    "LocalSDPNegotiationError",
    "RemoteSDPNegotiationError",
    "SDPNegotiationError",
    "SDPParseError",
]


class SDPParseError(ValueError):
    """A session description does not follow the SDP grammar (RFC 4566).

    ``line`` is the 1-based number of the offending line (None when the problem is the text as a
    whole, such as a missing ``o=`` line), ``reason`` says what is wrong and ``text`` is the line.
    """

    def __init__(self, reason: str, line: int | None = None, text: str | None = None) -> None:
        self.reason = reason
        self.line = line
        self.text = text
        message = reason if line is None else f"line {line}: {reason}"
        if text is not None:
            shown = text if len(text) <= 80 else text[:77] + "..."
            message = f"{message} ({shown!r})"
        super().__init__(message)


class Culprit(enum.Enum):
    """Which side broke the offer/answer rules."""

    LOCAL = "local"  # our own code: an answer without an offer, an SDP that breaks RFC 3264
    REMOTE = "remote"  # the peer: an answer that does not match our offer, a glaring offer


class SDPNegotiationError(SIPCoreError):
    """An offer/answer step that RFC 3264 rules out; ``culprit`` says who is at fault."""

    culprit: Culprit

    def __init__(self, message: str, culprit: Culprit) -> None:
        super().__init__(message)
        self.culprit = culprit


class LocalSDPNegotiationError(SDPNegotiationError):
    """Our side misused the negotiator or produced an SDP that breaks the offer/answer rules."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Culprit.LOCAL)


class RemoteSDPNegotiationError(SDPNegotiationError):
    """The peer sent an offer or answer that no compliant agent sends at this point."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Culprit.REMOTE)
