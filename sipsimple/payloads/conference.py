"""``application/conference-info+xml``: the conference state of RFC 4575 (``conference`` event).

The model follows the RFC 4575 §5 schema (namespace ``urn:ietf:params:xml:ns:conference-info``)::

    conference-info  @entity @state(full|partial|deleted) @version
      conference-description  display-text subject free-text keywords conf-uris service-uris
                              maximum-user-count available-media/entry(@label: display-text type status)
      host-info               display-text web-page uris
      conference-state        user-count active locked
      users @state
        user @entity @state   display-text associated-aors roles/entry languages
          endpoint @entity @state  display-text referred status joining-method joining-info
                                   disconnection-method disconnection-info
            media @id              display-text type label src-id status
    uris-type (conf-uris, service-uris, uris, associated-aors) @state: entry(uri display-text purpose)
    execution-type (referred, joining-info, disconnection-info): when reason by

Each element is a frozen dataclass whose ``SCHEMA`` (one row per attribute or child element, in
schema order) drives reading, writing and merging. Elements of other namespaces and the parts of
the schema not modelled here (sidebars, call-info, the ``modified`` of URI entries, extensions)
are skipped when reading. ``Conference.parse(data)`` raises ``ParserError`` for a document that is
not XML, has a DTD, has another root, or has a bad entity/state/version, number, boolean or date;
``to_xml()`` writes the canonical form, and ``Conference.parse(c.to_xml()) == c``.

Partial notifications (RFC 4575 §4.6) are merged by ``Conference.merge(update)``:

* an element with a ``state`` attribute (conference-info, users, user, endpoint, the URI lists)
  is replaced by a ``full`` one, removed by a ``deleted`` one, and merged child by child with a
  ``partial`` one;
* in a merge, a child the update does not carry is kept; a repeated child with a key (user and
  endpoint ``entity``, media ``id``, URI entry ``uri``) is matched by its key, merged or replaced,
  and new keys are appended in the update's order; the containers without a ``state`` attribute
  (conference-description, host-info, conference-state) are merged the same way, child by child;
  any other child the update carries (a text, a number, roles, languages, an execution record
  such as joining-info, a media, a URI entry) replaces the old one as a whole.

``ConferenceTracker`` keeps the merged state of one subscription and applies the version rules:
a full or deleted document newer than the local one replaces it, a partial document is merged
only when its version is the local one plus one; an older or repeated version is ignored, and a
partial document that skips a version (or comes before any full one) means the local state is
lost: the subscriber must refresh the subscription to get a full one.
"""

from __future__ import annotations

import enum
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sipsimple.payloads import ParserError

from ._xml import local_name, parse_document, qualified

__all__ = [
    "CONTENT_TYPE",
    "NAMESPACE",
    "AvailableMedia",
    "Conference",
    "ConferenceDescription",
    "ConferenceState",
    "ConferenceTracker",
    "Endpoint",
    "Execution",
    "HostInfo",
    "Media",
    "ParserError",
    "URIEntry",
    "URIList",
    "User",
    "Users",
    "Verdict",
]

CONTENT_TYPE = "application/conference-info+xml"
NAMESPACE = "urn:ietf:params:xml:ns:conference-info"
STATES = ("full", "partial", "deleted")
_MAX_UNSIGNED = 2**32 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# -- value codecs: text <-> value ----------------------------------------------------------------


@dataclass(frozen=True)
class Codec:
    read: Callable[[str], Any]
    write: Callable[[Any], str]


def _unsigned(text: str) -> int:
    value = text.strip()
    if not _DIGITS.fullmatch(value) or int(value) > _MAX_UNSIGNED:
        raise ValueError(f"{text!r} is not an unsigned 32-bit number")
    return int(value)


def _boolean(text: str) -> bool:
    value = text.strip()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ValueError(f"{text!r} is not a boolean")


def _read_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def _write_datetime(value: datetime) -> str:
    if value.tzinfo is not None and value.utcoffset() == timedelta(0):
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def _state(text: str) -> str:
    if text not in STATES:
        raise ValueError(f"state {text!r} is not full, partial or deleted")
    return text


TEXT = Codec(lambda text: text.strip(), str)
UNSIGNED = Codec(_unsigned, str)
BOOLEAN = Codec(_boolean, lambda value: "true" if value else "false")
DATETIME = Codec(_read_datetime, _write_datetime)
STATE = Codec(_state, str)
TOKENS = Codec(lambda text: tuple(text.split()), " ".join)  # an xs:list


# -- schema rows -----------------------------------------------------------------------------------


class Kind(enum.Enum):
    ATTRIBUTE = "an XML attribute"
    LEAF = "a child element holding a value"
    NODE = "a child element holding an element class"
    MANY = "repeated child elements, each an element class"
    WRAPPED = "a child element holding repeated <entry> elements (values or element classes)"


@dataclass(frozen=True)
class Row:
    """One attribute or child element of an element class: ``name`` is the Python attribute,
    ``tag`` the XML name; ``codec`` reads values, ``cls`` nested element classes."""

    name: str
    tag: str
    kind: Kind
    codec: Codec | None = None
    cls: Any = None
    required: bool = False


def attribute(name: str, tag: str, codec: Codec = TEXT, required: bool = False) -> Row:
    return Row(name, tag, Kind.ATTRIBUTE, codec=codec, required=required)


def leaf(name: str, tag: str, codec: Codec = TEXT) -> Row:
    return Row(name, tag, Kind.LEAF, codec=codec)


def node(name: str, tag: str, cls: Any) -> Row:
    return Row(name, tag, Kind.NODE, cls=cls)


def many(name: str, tag: str, cls: Any) -> Row:
    return Row(name, tag, Kind.MANY, cls=cls)


def wrapped(name: str, tag: str, codec: Codec | None = None, cls: Any = None) -> Row:
    return Row(name, tag, Kind.WRAPPED, codec=codec, cls=cls)


class Element:
    """Base of the element classes: ``SCHEMA`` rows, the ``KEY`` attribute that identifies a
    repeated element, whether it has a ``state`` attribute (``STATEFUL``) or is a container
    without one that a partial document updates child by child (``MERGED``)."""

    SCHEMA: ClassVar[tuple[Row, ...]] = ()
    KEY: ClassVar[str | None] = None
    STATEFUL: ClassVar[bool] = False
    MERGED: ClassVar[bool] = False  # a stateless container merged child by child

    @classmethod
    def _from_element(cls, element: ET.Element) -> Any:
        return _read(cls, element)

    def _to_element(self, tag: str) -> ET.Element:
        return _write(self, tag)

    @property
    def key(self) -> Any:
        return None if self.KEY is None else getattr(self, self.KEY)


def _where(element: ET.Element) -> str:
    return f"<{local_name(element.tag)[1]}>"


def _read_value(row: Row, text: str, where: str) -> Any:
    assert row.codec is not None
    try:
        return row.codec.read(text)
    except ValueError as error:
        raise ParserError(f"conference-info: {row.tag} of {where}: {error}") from None


def _read(cls: Any, element: ET.Element) -> Any:
    where = _where(element)
    values: dict[str, Any] = {}
    rows = {row.tag: row for row in cls.SCHEMA if row.kind is not Kind.ATTRIBUTE}
    for row in cls.SCHEMA:
        if row.kind is not Kind.ATTRIBUTE:
            continue
        raw = element.get(row.tag)
        if raw is None:
            if row.required:
                raise ParserError(f"conference-info: {where} has no {row.tag} attribute")
            continue
        values[row.name] = _read_value(row, raw, where)
    for child in element:
        namespace, local = local_name(child.tag) if isinstance(child.tag, str) else (None, "")
        row = rows.get(local) if namespace == NAMESPACE else None
        if row is None or (row.kind is not Kind.MANY and row.name in values):
            continue  # another namespace, a part not modelled, or a repeated single element
        if row.kind is Kind.LEAF:
            values[row.name] = _read_value(row, child.text or "", where)
        elif row.kind is Kind.NODE:
            values[row.name] = row.cls._from_element(child)
        elif row.kind is Kind.MANY:
            values[row.name] = (*values.get(row.name, ()), row.cls._from_element(child))
        else:
            entries = [item for item in child if item.tag == qualified(NAMESPACE, "entry")]
            if row.cls is not None:
                values[row.name] = tuple(row.cls._from_element(item) for item in entries)
            else:
                values[row.name] = tuple(_read_value(row, item.text or "", where) for item in entries)
    return cls(**values)


def _text(row: Row, value: Any) -> str:
    assert row.codec is not None
    text: str = row.codec.write(value)
    if _NOT_XML.search(text):
        raise ValueError(f"{row.tag} {text!r} has a character XML 1.0 cannot carry")
    return text


def _write(instance: Any, tag: str) -> ET.Element:
    # Written with bare names: the root declares the namespace as the default one (xmlns), which
    # ElementTree's default_namespace option cannot do for documents with unqualified attributes.
    element = ET.Element(tag)
    for row in instance.SCHEMA:
        value = getattr(instance, row.name)
        if value is None:
            continue
        if row.kind is Kind.ATTRIBUTE:
            element.set(row.tag, _text(row, value))
        elif row.kind is Kind.LEAF:
            ET.SubElement(element, row.tag).text = _text(row, value)
        elif row.kind is Kind.NODE:
            element.append(value._to_element(row.tag))
        elif row.kind is Kind.MANY:
            element.extend([item._to_element(row.tag) for item in value])
        else:
            container = ET.SubElement(element, row.tag)
            for item in value:
                if row.cls is not None:
                    container.append(item._to_element("entry"))
                else:
                    ET.SubElement(container, "entry").text = _text(row, item)
    return element


# -- merging (RFC 4575 §4.6) -----------------------------------------------------------------------


def _merge(old: Any, new: Any) -> Any:
    """``new`` applied to ``old`` (same class): see the module documentation."""
    if new.STATEFUL and new.state == "full":
        return new
    changes: dict[str, Any] = {}
    for row in new.SCHEMA:
        value = getattr(new, row.name)
        if row.kind is Kind.ATTRIBUTE:
            if row.tag != "state" and value is not None:
                changes[row.name] = value
        elif row.kind is Kind.MANY:
            changes[row.name] = _merge_keyed(getattr(old, row.name), value)
        elif value is None:
            continue
        elif row.kind is Kind.NODE and (row.cls.STATEFUL or row.cls.MERGED):
            if row.cls.STATEFUL and value.state == "deleted":
                changes[row.name] = None
            else:
                previous = getattr(old, row.name)
                changes[row.name] = _merge(row.cls() if previous is None else previous, value)
        else:
            changes[row.name] = value
    if new.STATEFUL:
        changes["state"] = "full"
    return replace(old, **changes)


def _merge_keyed(old: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[Any, ...]:
    merged = list(old)
    for item in new:
        position = next((i for i, known in enumerate(merged) if known.key == item.key), None)
        if item.STATEFUL and item.state == "deleted":
            if position is not None:
                del merged[position]
        elif position is not None:
            merged[position] = _merge(merged[position], item) if item.STATEFUL else item
        elif item.STATEFUL:
            merged.append(_merge(type(item)(**{item.KEY: item.key}), item))
        else:
            merged.append(item)
    return tuple(merged)


# -- the elements ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Execution(Element):
    """``referred``, ``joining-info``, ``disconnection-info``: when, why and by whom."""

    when: datetime | None = None
    reason: str | None = None
    by: str | None = None

    SCHEMA = (leaf("when", "when", DATETIME), leaf("reason", "reason"), leaf("by", "by"))


@dataclass(frozen=True)
class URIEntry(Element):
    """An ``entry`` of a URI list."""

    uri: str
    display_text: str | None = None
    purpose: str | None = None

    SCHEMA = (leaf("uri", "uri"), leaf("display_text", "display-text"), leaf("purpose", "purpose"))
    KEY = "uri"

    @classmethod
    def _from_element(cls, element: ET.Element) -> URIEntry:
        if element.find(qualified(NAMESPACE, "uri")) is None:
            raise ParserError(f"conference-info: a URI entry has no <uri> in {_where(element)}")
        return _read(cls, element)


@dataclass(frozen=True)
class URIList(Element):
    """``conf-uris``, ``service-uris``, ``uris`` (host-info), ``associated-aors``."""

    entries: tuple[URIEntry, ...] = ()
    state: str = "full"

    SCHEMA = (attribute("state", "state", STATE), many("entries", "entry", URIEntry))
    STATEFUL = True

    def __iter__(self) -> Iterator[URIEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True)
class AvailableMedia(Element):
    """An ``entry`` of ``available-media``: a media stream the conference offers."""

    label: str
    display_text: str | None = None
    type: str | None = None
    status: str | None = None

    SCHEMA = (attribute("label", "label", required=True), leaf("display_text", "display-text"),
              leaf("type", "type"), leaf("status", "status"))  # fmt: skip
    KEY = "label"


@dataclass(frozen=True)
class ConferenceDescription(Element):
    """``conference-description``."""

    display_text: str | None = None
    subject: str | None = None
    free_text: str | None = None
    keywords: tuple[str, ...] | None = None
    conf_uris: URIList | None = None
    service_uris: URIList | None = None
    maximum_user_count: int | None = None
    available_media: tuple[AvailableMedia, ...] | None = None

    MERGED = True
    SCHEMA = (
        leaf("display_text", "display-text"), leaf("subject", "subject"), leaf("free_text", "free-text"),
        leaf("keywords", "keywords", TOKENS), node("conf_uris", "conf-uris", URIList),
        node("service_uris", "service-uris", URIList),
        leaf("maximum_user_count", "maximum-user-count", UNSIGNED),
        wrapped("available_media", "available-media", cls=AvailableMedia),
    )  # fmt: skip


@dataclass(frozen=True)
class HostInfo(Element):
    """``host-info``."""

    display_text: str | None = None
    web_page: str | None = None
    uris: URIList | None = None

    MERGED = True
    SCHEMA = (
        leaf("display_text", "display-text"),
        leaf("web_page", "web-page"),
        node("uris", "uris", URIList),
    )


@dataclass(frozen=True)
class ConferenceState(Element):
    """``conference-state``."""

    user_count: int | None = None
    active: bool | None = None
    locked: bool | None = None

    MERGED = True
    SCHEMA = (leaf("user_count", "user-count", UNSIGNED), leaf("active", "active", BOOLEAN),
              leaf("locked", "locked", BOOLEAN))  # fmt: skip


@dataclass(frozen=True)
class Media(Element):
    """A ``media`` stream of an endpoint."""

    id: str
    display_text: str | None = None
    type: str | None = None
    label: str | None = None
    src_id: str | None = None
    status: str | None = None

    SCHEMA = (attribute("id", "id", required=True), leaf("display_text", "display-text"), leaf("type", "type"),
              leaf("label", "label"), leaf("src_id", "src-id"), leaf("status", "status"))  # fmt: skip
    KEY = "id"


@dataclass(frozen=True)
class Endpoint(Element):
    """An ``endpoint`` (one device or signalling leg) of a user."""

    entity: str | None = None
    state: str = "full"
    display_text: str | None = None
    referred: Execution | None = None
    status: str | None = None
    joining_method: str | None = None
    joining_info: Execution | None = None
    disconnection_method: str | None = None
    disconnection_info: Execution | None = None
    media: tuple[Media, ...] = ()

    SCHEMA = (
        attribute("entity", "entity"), attribute("state", "state", STATE),
        leaf("display_text", "display-text"), node("referred", "referred", Execution),
        leaf("status", "status"), leaf("joining_method", "joining-method"),
        node("joining_info", "joining-info", Execution),
        leaf("disconnection_method", "disconnection-method"),
        node("disconnection_info", "disconnection-info", Execution), many("media", "media", Media),
    )  # fmt: skip
    KEY = "entity"
    STATEFUL = True


@dataclass(frozen=True)
class User(Element):
    """A ``user`` of the conference."""

    entity: str | None = None
    state: str = "full"
    display_text: str | None = None
    associated_aors: URIList | None = None
    roles: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    endpoints: tuple[Endpoint, ...] = ()

    SCHEMA = (
        attribute("entity", "entity"), attribute("state", "state", STATE),
        leaf("display_text", "display-text"), node("associated_aors", "associated-aors", URIList),
        wrapped("roles", "roles", TEXT), leaf("languages", "languages", TOKENS),
        many("endpoints", "endpoint", Endpoint),
    )  # fmt: skip
    KEY = "entity"
    STATEFUL = True

    def endpoint(self, entity: str) -> Endpoint | None:
        """The endpoint with this entity, or None."""
        return next((item for item in self.endpoints if item.entity == entity), None)


@dataclass(frozen=True)
class Users(Element):
    """``users``: iterable, ``len()``, and ``users[entity]`` (KeyError when absent)."""

    entries: tuple[User, ...] = ()
    state: str = "full"

    SCHEMA = (attribute("state", "state", STATE), many("entries", "user", User))
    STATEFUL = True

    def __iter__(self) -> Iterator[User]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, entity: str) -> User:
        for user in self.entries:
            if user.entity == entity:
                return user
        raise KeyError(entity)

    def __contains__(self, entity: object) -> bool:
        return any(user.entity == entity for user in self.entries)


@dataclass(frozen=True)
class Conference(Element):
    """A ``conference-info`` document: ``Conference.parse(body)``, ``to_xml()``, ``merge()``."""

    entity: str
    state: str = "full"
    version: int | None = None
    description: ConferenceDescription | None = None
    host_info: HostInfo | None = None
    conference_state: ConferenceState | None = None
    users: Users | None = None

    SCHEMA = (
        attribute("entity", "entity", required=True), attribute("state", "state", STATE),
        attribute("version", "version", UNSIGNED),
        node("description", "conference-description", ConferenceDescription),
        node("host_info", "host-info", HostInfo),
        node("conference_state", "conference-state", ConferenceState), node("users", "users", Users),
    )  # fmt: skip
    STATEFUL = True
    content_type: ClassVar[str] = CONTENT_TYPE

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview | str) -> Conference:
        """Read a conference-info document (ParserError when it is not one)."""
        root = parse_document(data, "conference-info")
        if root.tag != qualified(NAMESPACE, "conference-info"):
            raise ParserError(f"conference-info: the root element is {root.tag!r}, not conference-info "
                              f"in the {NAMESPACE} namespace")  # fmt: skip
        return _read(cls, root)

    def to_xml(self) -> bytes:
        """The canonical document (UTF-8, with an XML declaration, no added white space).
        ValueError for a value with a character XML cannot carry (a control character)."""
        root = self._to_element("conference-info")
        root.attrib = {"xmlns": NAMESPACE, **root.attrib}
        text = ET.tostring(root, encoding="unicode")
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + text.encode("utf-8")

    def merge(self, update: Conference) -> Conference:
        """This (full) state with ``update`` applied: a full or deleted update replaces it, a
        partial one is merged (RFC 4575 §4.6, see the module documentation). Versions are not
        checked here (``ConferenceTracker`` does)."""
        if update.state != "partial":
            return update
        return replace(_merge(self, update), version=update.version)


# -- the version rules -----------------------------------------------------------------------------


class Verdict(enum.Enum):
    APPLIED = "the document changed the local state"
    IGNORED = "an old or repeated version: the document was ignored"
    NEEDS_FULL_STATE = "a version was skipped (or no full state yet): refresh the subscription"


@dataclass
class ConferenceTracker:
    """The merged conference state of one subscription (sans-IO): ``receive(document)`` applies
    the RFC 4575 §4.6 version rules and says what happened; ``conference`` is the merged state
    (None until the first full document); ``reset()`` forgets it (a new subscription dialog
    numbers its versions afresh)."""

    conference: Conference | None = None

    def reset(self) -> None:
        self.conference = None

    def receive(self, document: Conference) -> Verdict:
        current = self.conference
        newer = (
            current is None
            or document.version is None
            or current.version is None
            or document.version > current.version
        )
        if not newer:
            return Verdict.IGNORED
        if document.state != "partial":
            self.conference = document
            return Verdict.APPLIED
        if current is None or current.state == "deleted":
            return Verdict.NEEDS_FULL_STATE
        if (
            document.version is not None
            and current.version is not None
            and document.version != current.version + 1
        ):
            return Verdict.NEEDS_FULL_STATE
        self.conference = current.merge(document)
        return Verdict.APPLIED
