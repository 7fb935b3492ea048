"""Safe XML reading for the XML payloads: the standard library's expat, with no DTD at all.

``parse_document(data, what)`` builds an ``xml.etree.ElementTree`` tree with names in Clark
notation (``{namespace}local``). A document type declaration (and with it every entity
declaration, internal or external) is refused, so no entity is ever expanded or fetched; an
undeclared entity reference is an XML error. Every problem is a ``ParserError`` naming the
payload (``what``) and, for malformed XML, the line and column.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, NoReturn
from xml.parsers import expat

from sipsimple.payloads import ParserError

__all__ = ["local_name", "parse_document", "qualified"]


class _Refused(Exception):
    """Raised inside an expat handler to stop the parse."""


def _clark(name: str) -> str:
    namespace, _, local = name.rpartition(" ")
    return f"{{{namespace}}}{local}" if namespace else local


def qualified(namespace: str, local: str) -> str:
    """``{namespace}local``."""
    return f"{{{namespace}}}{local}"


def local_name(tag: str) -> tuple[str | None, str]:
    """(namespace or None, local name) of a Clark-notation tag."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


def parse_document(data: bytes | bytearray | memoryview | str, what: str) -> ET.Element:
    """The root element of ``data``; ParserError for anything that is not a DTD-free XML document."""
    if isinstance(data, str):
        payload: bytes = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        payload = bytes(data)
    else:
        raise TypeError(f"a {what} body is bytes or str, not {type(data).__name__}")
    if not payload.strip():
        raise ParserError(f"{what}: the body is empty")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_: Any) -> NoReturn:
        raise _Refused("a document type declaration is not allowed")

    def start(name: str, attributes: dict[str, str]) -> None:
        builder.start(_clark(name), {_clark(key): value for key, value in attributes.items()})

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(_clark(name))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(payload, True)
    except _Refused as error:
        raise ParserError(f"{what}: {error}") from None
    except expat.ExpatError as error:
        raise ParserError(f"{what}: not well-formed XML ({expat.ErrorString(error.code)}, "
                          f"line {error.lineno}, column {error.offset})") from None  # fmt: skip
    except (LookupError, ValueError) as error:  # an unknown or undecodable declared encoding
        raise ParserError(f"{what}: not well-formed XML ({error})") from None
    return builder.close()
