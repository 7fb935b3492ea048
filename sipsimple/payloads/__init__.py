"""Event and message payloads: one small module per RFC (see README.md in this package).

Each payload module has a class with a ``parse()`` class method and a serialiser; input that does
not follow the format raises :class:`ParserError`, the one error every payload parser uses.
"""

from __future__ import annotations

__all__ = ["ParserError"]


class ParserError(ValueError):
    """A payload does not follow its format; the message says what is wrong and where."""
