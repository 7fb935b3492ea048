"""``application/simple-message-summary``: the body of ``message-summary`` NOTIFYs (RFC 3842).

The grammar it follows (RFC 3842 §5.2; HCOLON, SLASH, LPAREN and RPAREN allow blanks around their
character, as in RFC 3261)::

    message-summary  = msg-status-line CRLF [msg-account CRLF] [*(msg-summary-line CRLF)]
                       [*opt-msg-headers]
    msg-status-line  = "Messages-Waiting" HCOLON ("yes" / "no")
    msg-account      = "Message-Account" HCOLON Account-URI   ; SIP-URI / SIPS-URI / absoluteURI
    msg-summary-line = message-context-class HCOLON newmsgs SLASH oldmsgs
                       [LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN]
    opt-msg-headers  = CRLF 1*(extension-header CRLF)
    msg-count        = 1*DIGIT                                 ; at most 2^32-1

The message-context classes are those of RFC 3458 (voice-message, fax-message, pager-message,
multimedia-message, text-message, none); other class names are kept as they come.

What the parser accepts besides the letter of the grammar: field names in any case, LF line ends
as well as CRLF, blanks around every field and value, a missing line end at the very end, blank
lines before the status line, folded (continued) lines, a UTF-8 byte order mark, and the status,
account and summary lines in any order. What it refuses, with a ``ParserError`` that names the line
and the problem: text that is not UTF-8, a CR that does not end a line, a missing or repeated
Messages-Waiting, a status other than yes/no, a repeated Message-Account or class, an account that
is not a URI, counts that are not ``new/old`` or ``new/old (new/old)`` or exceed 2^32-1, a line
that is not ``name: value``, a field name that is not a token, and control characters in values.

``MessageSummary.parse(body)`` reads a body (bytes or str); ``to_string()`` writes the canonical form
(CRLF line ends, ``Name: value``, the RFC spelling of the class names), so
``MessageSummary.parse(text).to_string() == text`` for canonical text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sipsimple.payloads import ParserError

__all__ = ["CONTENT_TYPE", "MESSAGE_CONTEXT_CLASSES", "MessageCounts", "MessageSummary", "ParserError"]

CONTENT_TYPE = "application/simple-message-summary"

#: The largest message count RFC 3842 allows.
MAX_COUNT = 2**32 - 1

#: RFC 3458 message-context classes: the name (lower case, as keys of ``summaries``) -> its spelling
#: in a body. A class not listed here is written with each hyphen-separated word capitalised.
MESSAGE_CONTEXT_CLASSES: dict[str, str] = {
    "voice-message": "Voice-Message",
    "fax-message": "Fax-Message",
    "pager-message": "Pager-Message",
    "multimedia-message": "Multimedia-Message",
    "text-message": "Text-Message",
    "none": "None",
}

_BLANKS = " \t"
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_COUNTS = re.compile(r"([0-9]+)[ \t]*/[ \t]*([0-9]+)(?:[ \t]*\([ \t]*([0-9]+)[ \t]*/[ \t]*([0-9]+)[ \t]*\))?")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^ \t]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _show(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


@dataclass(frozen=True)
class MessageCounts:
    """The counts of one message-context class: new and old messages, and optionally how many of
    each are urgent (both urgent counts or neither)."""

    new_messages: int
    old_messages: int
    new_urgent_messages: int | None = None
    old_urgent_messages: int | None = None

    def __post_init__(self) -> None:
        counts = [self.new_messages, self.old_messages]
        urgent = [self.new_urgent_messages, self.old_urgent_messages]
        if (urgent[0] is None) != (urgent[1] is None):
            raise ValueError("give both urgent counts or neither")
        for count in counts + [n for n in urgent if n is not None]:
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
                raise ValueError(f"a message count is an integer from 0 to {MAX_COUNT}, not {count!r}")

    @property
    def has_urgent(self) -> bool:
        return self.new_urgent_messages is not None

    @classmethod
    def parse(cls, value: str) -> MessageCounts:
        """``new/old`` or ``new/old (new-urgent/old-urgent)``; ParserError otherwise."""
        match = _COUNTS.fullmatch(value.strip(_BLANKS))
        if match is None:
            raise ParserError(f"{_show(value)} is not 'new/old' or 'new/old (new-urgent/old-urgent)'")
        numbers: list[int | None] = []
        for digits in match.groups():
            if digits is None:
                numbers.append(None)
            elif len(digits) > 10 or int(digits) > MAX_COUNT:
                raise ParserError(f"the count {_show(digits)} exceeds {MAX_COUNT}")
            else:
                numbers.append(int(digits))
        new, old, new_urgent, old_urgent = numbers
        assert new is not None and old is not None
        return cls(new, old, new_urgent, old_urgent)

    def __str__(self) -> str:
        text = f"{self.new_messages}/{self.old_messages}"
        if self.has_urgent:
            text += f" ({self.new_urgent_messages}/{self.old_urgent_messages})"
        return text


def _parse_status(value: str) -> bool:
    status = value.lower()
    if status not in ("yes", "no"):
        raise ParserError(f"the status is 'yes' or 'no', not {_show(value)}")
    return status == "yes"


def _parse_account(value: str) -> str:
    if not _URI.fullmatch(value):
        raise ParserError(f"{_show(value)} is not a URI")
    return value


#: The fields of the status part that are not summary lines: lower-case name -> (attribute, parser).
_STATUS_FIELDS = {
    "messages-waiting": ("messages_waiting", _parse_status),
    "message-account": ("message_account", _parse_account),
}


def _spelling(name: str) -> str:
    name = name.lower()
    return MESSAGE_CONTEXT_CLASSES.get(name) or "-".join(
        part[:1].upper() + part[1:] for part in name.split("-")
    )


def _decode(data: bytes | bytearray | memoryview | str) -> str:
    if isinstance(data, str):
        text = data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ParserError(f"the body is not UTF-8 text (byte {error.start})") from None
    else:
        raise TypeError(f"a message summary is bytes or str, not {type(data).__name__}")
    return text.removeprefix("\ufeff")


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) of each logical line, folded lines joined, blank lines as ''."""
    raw = text.replace("\r\n", "\n").split("\n")
    if raw[-1] == "":
        raw.pop()
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(raw, 1):
        if "\r" in line:
            raise ParserError(f"line {number}: a CR that does not end a line")
        content = line.strip(_BLANKS)
        if not content:
            lines.append((number, ""))
        elif line[0] in _BLANKS and lines and lines[-1][1]:
            first, previous = lines[-1]
            lines[-1] = (first, f"{previous} {content}")  # a folded line continues the previous one
        else:
            lines.append((number, content))
    return lines


def _field(number: int, line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    name, value = name.strip(_BLANKS), value.strip(_BLANKS)
    if not colon:
        raise ParserError(f"line {number}: {_show(line)} is not a 'name: value' line")
    if not _TOKEN.fullmatch(name):
        raise ParserError(f"line {number}: {_show(name)} is not a field name")
    if _CONTROL.search(value):
        raise ParserError(f"line {number}: a control character in the value of {name}")
    return name, value


def _sections(lines: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """The lines split at blank lines (runs of blank lines count as one)."""
    sections: list[list[tuple[int, str]]] = [[]]
    for number, line in lines:
        if line:
            sections[-1].append((number, line))
        elif sections[-1]:
            sections.append([])
    if not sections[-1]:
        sections.pop()
    return sections


@dataclass
class MessageSummary:
    """A message summary: whether messages wait, for which account, counts per message-context
    class (``summaries``: lower-case class name -> MessageCounts, in body order) and the headers of
    individual messages that may follow (``optional_headers``: one list of (name, value) pairs per
    message)."""

    messages_waiting: bool = False
    message_account: str | None = None
    summaries: dict[str, MessageCounts] = field(default_factory=dict)
    optional_headers: list[list[tuple[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.summaries = {name.lower(): counts for name, counts in self.summaries.items()}

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview | str) -> MessageSummary:
        """The summary in ``data``; ParserError when it does not follow RFC 3842 (see the module
        documentation for what is tolerated)."""
        sections = _sections(_lines(_decode(data)))
        if not sections:
            raise ParserError("the body is empty: it needs at least a Messages-Waiting line")
        status, *messages = sections
        values: dict[str, Any] = {}
        summaries: dict[str, MessageCounts] = {}
        for number, line in status:
            name, value = _field(number, line)
            key = name.lower()
            try:
                if key in _STATUS_FIELDS:
                    attribute, parse = _STATUS_FIELDS[key]
                    if attribute in values:
                        raise ParserError("the field is repeated")
                    values[attribute] = parse(value)
                else:
                    if key in summaries:
                        raise ParserError("the field is repeated")
                    summaries[key] = MessageCounts.parse(value)
            except ParserError as error:
                raise ParserError(f"line {number}: {name}: {error}") from None
        if "messages_waiting" not in values:
            raise ParserError("there is no Messages-Waiting line")
        headers = [[_field(number, line) for number, line in block] for block in messages]
        return cls(values["messages_waiting"], values.get("message_account"), summaries, headers)

    def to_string(self) -> str:
        """The canonical body (CRLF line ends); ValueError when a value cannot be written."""
        lines = [f"Messages-Waiting: {'yes' if self.messages_waiting else 'no'}"]
        if self.message_account is not None:
            if not _URI.fullmatch(self.message_account) or _CONTROL.search(self.message_account):
                raise ValueError(f"Message-Account {self.message_account!r} is not a URI")
            lines.append(f"Message-Account: {self.message_account}")
        for name, counts in self.summaries.items():
            if not _TOKEN.fullmatch(name) or name.lower() in _STATUS_FIELDS:
                raise ValueError(f"{name!r} cannot be a message-context class")
            if not isinstance(counts, MessageCounts):
                raise ValueError(f"the counts of {name} must be a MessageCounts, not {counts!r}")
            lines.append(f"{_spelling(name)}: {counts}")
        text = "".join(line + "\r\n" for line in lines)
        for block in self.optional_headers:
            if not block:
                continue
            text += "\r\n"
            for name, value in block:
                if not _TOKEN.fullmatch(name) or _CONTROL.search(value) or value != value.strip(_BLANKS):
                    raise ValueError(f"cannot write the message header {name!r}: {value!r}")
                text += f"{name}: {value}\r\n"
        return text
