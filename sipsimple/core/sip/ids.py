"""Identifiers: Via branches (RFC 3261 magic cookie), From/To tags and Call-IDs."""

from __future__ import annotations

import secrets

__all__ = ["MAGIC_COOKIE", "new_branch", "new_call_id", "new_tag"]

MAGIC_COOKIE = "z9hG4bK"


def new_branch() -> str:
    """A globally unique branch parameter with the RFC 3261 magic cookie (§8.1.1.7)."""
    return MAGIC_COOKIE + secrets.token_hex(12)


def new_tag() -> str:
    """A From/To tag with at least 32 bits of randomness (§19.3)."""
    return secrets.token_hex(8)


def new_call_id(host: str = "") -> str:
    """A Call-ID unique in space and time (§8.1.1.4); ``host`` is appended when given."""
    token = secrets.token_hex(16)
    return f"{token}@{host}" if host else token
