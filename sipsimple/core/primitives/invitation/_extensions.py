"""Header helpers for the INVITE extensions: option tags (RFC 3261 §20.32/§20.37, Require and
Supported), reliable provisionals (RFC 3262: RSeq, RAck), session timers (RFC 4028:
Session-Expires, Min-SE) and Replaces (RFC 3891). Pure functions over parsed messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.headers import ReplacesHeader

__all__ = [
    "KNOWN_OPTIONS",
    "SessionExpires",
    "header_text",
    "options",
    "rack_of",
    "replaces_for",
    "replaces_of",
    "rseq_of",
    "session_expires_of",
    "min_se_of",
]

#: The option tags we understand in a Require header; anything else gets 420 Bad Extension.
KNOWN_OPTIONS = frozenset({"100rel", "replaces", "timer"})


def header_text(message: Any, name: str) -> list[str]:
    """The text of every ``name`` header of ``message`` (an empty list when there is none)."""
    try:
        headers = message.get_all(name)
    except SIPParseError:
        return []
    texts = []
    for header in headers:
        body = getattr(header, "body", None)
        texts.append(str(body) if body is not None else str(header).split(":", 1)[-1].strip())
    return texts


def options(message: Any, name: str) -> set[str]:
    """The option tags of every Require/Supported (``name``) header, lower case."""
    return {
        tag.strip().lower() for text in header_text(message, name) for tag in text.split(",") if tag.strip()
    }


def rseq_of(message: Any) -> int | None:
    """The RSeq of a reliable provisional response (RFC 3262 §7.1), None when absent or malformed."""
    texts = header_text(message, "RSeq")
    try:
        value = int(texts[0].strip()) if texts else None
    except ValueError:
        return None
    return value if value is not None and 1 <= value < 2**32 else None


def rack_of(message: Any) -> tuple[int, int, str] | None:
    """The (RSeq, CSeq number, method) of a PRACK's RAck (RFC 3262 §7.2)."""
    texts = header_text(message, "RAck")
    if not texts:
        return None
    parts = texts[0].split()
    if len(parts) != 3:
        return None
    try:
        return int(parts[0]), int(parts[1]), parts[2].upper()
    except ValueError:
        return None


@dataclass(frozen=True)
class SessionExpires:
    """A Session-Expires header (RFC 4028 §4): the interval in seconds and who refreshes."""

    interval: int
    refresher: str | None = None  # 'uac', 'uas' or None (not chosen yet)

    def __str__(self) -> str:
        return f"{self.interval}" + (f";refresher={self.refresher}" if self.refresher else "")


def session_expires_of(message: Any) -> SessionExpires | None:
    """The Session-Expires (or its compact form ``x``) of ``message``; None when absent or bad."""
    texts = header_text(message, "Session-Expires") or header_text(message, "x")
    if not texts:
        return None
    head, *params = (part.strip() for part in texts[0].split(";"))
    try:
        interval = int(head)
    except ValueError:
        return None
    refresher = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "refresher" and value.strip().lower() in ("uac", "uas"):
            refresher = value.strip().lower()
    return SessionExpires(interval, refresher) if interval > 0 else None


def min_se_of(message: Any) -> int | None:
    """The Min-SE of ``message`` in seconds; None when absent or malformed."""
    texts = header_text(message, "Min-SE")
    if not texts:
        return None
    try:
        value = int(texts[0].split(";")[0].strip())
    except ValueError:
        return None
    return value if value > 0 else None


def replaces_of(message: Any) -> ReplacesHeader | None:
    """The Replaces header of an INVITE (RFC 3891 §6.1); None when absent.

    Raises ValueError when there is more than one or it is malformed (the caller answers 400)."""
    texts = header_text(message, "Replaces")
    if not texts:
        return None
    if len(texts) > 1:
        raise ValueError("more than one Replaces header")
    try:
        return ReplacesHeader.parse(texts[0])
    except SIPParseError as error:
        raise ValueError(f"malformed Replaces header: {error}") from None


def replaces_for(call_id: str, local_tag: str, remote_tag: str, early_only: bool = False) -> ReplacesHeader:
    """The Replaces header that names the dialog (``call_id``, ``local_tag``, ``remote_tag``) as
    seen by us, for the INVITE a transfer target sends to our peer (RFC 3891 §3: the peer's
    to-tag is its local tag, which is our remote tag)."""
    return ReplacesHeader(call_id, from_tag=local_tag, to_tag=remote_tag, early_only=early_only)
