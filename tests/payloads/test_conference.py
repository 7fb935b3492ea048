"""conference-info (RFC 4575): reading the RFC's examples and our own vectors, writing the
canonical form back, refusing what is not a conference-info document (including DTDs and
entities), skipping extensions, merging partial documents and the version rules."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.payloads import ParserError
from sipsimple.payloads.conference import (
    CONTENT_TYPE,
    NAMESPACE,
    AvailableMedia,
    Conference,
    ConferenceDescription,
    ConferenceState,
    ConferenceTracker,
    Endpoint,
    Execution,
    HostInfo,
    Media,
    URIEntry,
    URIList,
    User,
    Users,
    Verdict,
)
from tests.conftest import corpora_directory

PAYLOADS = corpora_directory() / "payloads"
RFC4575_FILES = sorted(PAYLOADS.glob("rfc4575-*.xml")) if PAYLOADS.is_dir() else []
needs_corpora = pytest.mark.skipif(not RFC4575_FILES, reason=f"no RFC 4575 files in {PAYLOADS}")

ENTITY = "sips:conf233@example.com"


def document(body: str, state: str = "full", version: int = 1, extra: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<conference-info xmlns="{NAMESPACE}" '
        f'entity="{ENTITY}" state="{state}" version="{version}"{extra}>{body}</conference-info>'
    ).encode()


# -- the RFC's examples ----------------------------------------------------------------------------


@needs_corpora
def test_the_rfc_full_example_reads_into_typed_objects():
    conference = Conference.parse((PAYLOADS / "rfc4575-s7.1-conference-info.xml").read_bytes())
    assert (conference.entity, conference.state, conference.version) == (ENTITY, "full", 1)
    assert (
        conference.description is not None and conference.description.subject == "Agenda: This month's goals"
    )
    assert conference.description.service_uris is not None
    assert [(e.uri, e.purpose) for e in conference.description.service_uris] == [
        ("http://sharepoint/salesgroup/", "web-page")
    ]
    assert conference.conference_state == ConferenceState(user_count=33)
    assert conference.users is not None
    assert [user.entity for user in conference.users] == ["sip:bob@example.com", "sip:alice@example.com"]
    bob = conference.users["sip:bob@example.com"]
    assert bob.display_text == "Bob Hoskins"
    [laptop] = bob.endpoints
    assert (laptop.entity, laptop.status, laptop.disconnection_method) == (
        "sip:bob@pc33.example.com",
        "disconnected",
        "departed",
    )
    assert laptop.disconnection_info == Execution(
        datetime(2005, 3, 4, 20, 0, tzinfo=UTC), "bad voice quality", "sip:mike@example.com"
    )
    assert laptop.media == (Media("1", "main audio", "audio", "34567", "432424", "sendrecv"),)
    alice = conference.users["sip:alice@example.com"]
    assert alice.endpoints[0].joining_method == "dialed-out"
    assert alice.endpoints[0].joining_info is not None and alice.endpoints[0].joining_info.reason is None


@needs_corpora
def test_the_rfc_partial_example_reads_every_modelled_element_and_skips_sidebars_and_call_info():
    conference = Conference.parse((PAYLOADS / "rfc4575-s7.2-conference-info.xml").read_bytes())
    assert (conference.state, conference.version) == ("partial", 5)
    description = conference.description
    assert description is not None
    assert description.display_text == "Weekly Sales Meeting"
    assert description.keywords == ("sales", "meeting", "weekly")
    assert description.maximum_user_count == 100
    assert description.conf_uris is not None and len(description.conf_uris) == 3
    assert description.conf_uris.entries[0] == URIEntry("tel:+18005671234", "TTI Bridge", "participation")
    assert description.available_media == (
        AvailableMedia("34567", "main audio", "audio", "sendrecv"),
        AvailableMedia("34569", "main video", "video", "inactive"),
    )
    assert conference.host_info == HostInfo(
        "Sales Host", "http://sharepoint/salesgroup/hosts/", URIList((URIEntry("sip:sales@example.com"),))
    )
    assert conference.conference_state == ConferenceState(32, True, False)
    assert conference.users is not None
    bob = conference.users["sip:bob@example.com"]
    assert bob.roles == ("participant",) and bob.languages == ("en",)
    assert bob.associated_aors == URIList((URIEntry("mailto:bob@example.com", "email"),))
    endpoint = bob.endpoints[0]
    assert endpoint.referred is not None and endpoint.referred.reason == "expert required"
    assert endpoint.disconnection_method == "booted"
    assert "sidebars" not in conference.to_xml().decode() and "call-info" not in conference.to_xml().decode()


@needs_corpora
@pytest.mark.parametrize("path", RFC4575_FILES, ids=lambda path: path.name)
def test_every_rfc_example_writes_a_canonical_form_that_reads_back_equal(path):
    conference = Conference.parse(path.read_bytes())
    text = conference.to_xml()
    assert Conference.parse(text) == conference
    assert Conference.parse(text).to_xml() == text


# -- our own vectors ---------------------------------------------------------------------------------


def test_a_minimal_document_has_defaults_and_the_content_type_is_the_rfc_one():
    conference = Conference.parse(document(""))
    assert conference == Conference(ENTITY, "full", 1)
    assert conference.users is None and conference.description is None
    assert CONTENT_TYPE == "application/conference-info+xml"
    assert Conference(ENTITY).state == "full" and Conference(ENTITY).version is None


def test_the_canonical_form_is_exact():
    conference = Conference(
        ENTITY, "full", 7, conference_state=ConferenceState(2, True, False),
        users=Users((User("sip:a@x", "full", "A & B", roles=("participant",),
                          endpoints=(Endpoint("sip:a@h", "full", status="connected", media=(Media("1", type="audio"),)),)),)),
    )  # fmt: skip
    assert conference.to_xml() == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sips:conf233@example.com" '
        b'state="full" version="7"><conference-state><user-count>2</user-count><active>true</active>'
        b'<locked>false</locked></conference-state><users state="full"><user entity="sip:a@x" state="full">'
        b"<display-text>A &amp; B</display-text><roles><entry>participant</entry></roles>"
        b'<endpoint entity="sip:a@h" state="full"><status>connected</status><media id="1"><type>audio</type>'
        b"</media></endpoint></user></users></conference-info>"
    )


def test_a_prefixed_namespace_reads_the_same_as_the_default_one():
    prefixed = (
        b'<ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity="sip:c@x" version="3">'
        b"<ci:users><ci:user entity='sip:u@x'><ci:display-text>U</ci:display-text></ci:user></ci:users>"
        b"</ci:conference-info>"
    )
    conference = Conference.parse(prefixed)
    assert conference.users is not None and conference.users["sip:u@x"].display_text == "U"


def test_elements_and_attributes_of_other_namespaces_and_unknown_names_are_skipped():
    body = (
        '<users xmlns:ext="urn:example:ext"><user entity="sip:u@x" ext:flag="1">'
        "<ext:mood>happy</ext:mood><display-text>U</display-text><unknown-element><x/></unknown-element>"
        '<endpoint entity="sip:u@h"><ext:status>nonsense</ext:status><status>connected</status></endpoint>'
        "</user></users>"
    )
    conference = Conference.parse(document(body))
    assert conference.users is not None
    user = conference.users["sip:u@x"]
    assert user.display_text == "U" and user.endpoints[0].status == "connected"
    assert b"mood" not in conference.to_xml() and b"flag" not in conference.to_xml()


def test_elements_without_the_namespace_are_not_taken_for_conference_info_ones():
    body = '<users><user entity="sip:u@x"><display-text xmlns="">not ours</display-text></user></users>'
    conference = Conference.parse(document(body))
    assert conference.users is not None and conference.users["sip:u@x"].display_text is None


def test_text_values_lose_surrounding_blanks_and_lists_split_on_blanks():
    body = (
        "<conference-description><subject>\n  Plans \n</subject><keywords> a  b\n c </keywords>"
        "</conference-description><users><user entity='sip:u@x'><languages>en  fr</languages></user></users>"
    )
    conference = Conference.parse(document(body))
    assert conference.description == ConferenceDescription(subject="Plans", keywords=("a", "b", "c"))
    assert conference.users is not None and conference.users["sip:u@x"].languages == ("en", "fr")


def test_booleans_take_both_spellings_and_dates_any_offset():
    body = (
        "<conference-state><active>1</active><locked>0</locked></conference-state><users><user entity='u'>"
        "<endpoint entity='e'><joining-info><when>2024-01-02T03:04:05+02:00</when></joining-info></endpoint>"
        "</user></users>"
    )
    conference = Conference.parse(document(body))
    assert conference.conference_state == ConferenceState(None, True, False)
    assert conference.users is not None
    when = conference.users["u"].endpoints[0].joining_info.when  # type: ignore[union-attr]
    assert when == datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert b"2024-01-02T03:04:05+02:00" in conference.to_xml()


def test_a_repeated_single_element_keeps_its_first_value():
    conference = Conference.parse(
        document("<conference-state><user-count>1</user-count><user-count>2</user-count></conference-state>")
    )
    assert conference.conference_state == ConferenceState(user_count=1)


def test_utf16_and_a_str_body_are_read():
    text = document("<users><user entity='sip:ü@x'/></users>").decode()
    assert Conference.parse(text).users == Users((User("sip:ü@x"),))
    utf16 = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert Conference.parse(utf16) == Conference.parse(text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"not xml", "not well-formed"),
        (b"<conference-info", "not well-formed"),
        (document("") + b"<junk/>", "not well-formed"),
        (b'<conference-info entity="x"/>', "root element"),
        (b'<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"/>', "root element"),
        (f'<conference-info xmlns="{NAMESPACE}"/>'.encode(), "no entity attribute"),
        (document("", extra="").replace(b'state="full"', b'state="complete"'), "state"),
        (document("").replace(b'version="1"', b'version="-1"'), "version"),
        (document("").replace(b'version="1"', b'version="4294967296"'), "version"),
        (document("<conference-state><user-count>many</user-count></conference-state>"), "user-count"),
        (document("<conference-state><active>yes</active></conference-state>"), "active"),
        (document("<users state='some'/>"), "state"),
        (document("<users><user entity='u'><endpoint><media/></endpoint></user></users>"), "id attribute"),
        (document("<conference-description><available-media><entry/></available-media></conference-description>"), "label"),
        (document("<host-info><uris><entry><purpose>p</purpose></entry></uris></host-info>"), "<uri>"),
        (document("<users><user><endpoint><joining-info><when>yesterday</when></joining-info></endpoint></user></users>"), "when"),
    ],
)  # fmt: skip
def test_what_is_not_a_conference_info_document_raises_parser_error_saying_why(body, message):
    with pytest.raises(ParserError, match=message):
        Conference.parse(body)


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE conference-info [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="&b;"/>',
        b'<!DOCTYPE conference-info [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x">&x;</conference-info>',
        b'<!DOCTYPE conference-info SYSTEM "http://127.0.0.1:1/conference.dtd">'
        b'<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x"/>',
    ],
    ids=["entity expansion", "external entity", "external DTD"],
)
def test_a_document_type_declaration_is_refused_so_no_entity_is_ever_expanded(body):
    with pytest.raises(ParserError, match="document type declaration"):
        Conference.parse(body)


def test_an_undeclared_entity_is_an_error():
    with pytest.raises(ParserError, match="not well-formed"):
        Conference.parse(document("<users><user entity='&nope;'/></users>"))


def test_a_body_of_another_type_is_a_type_error():
    with pytest.raises(TypeError):
        Conference.parse(42)  # type: ignore[arg-type]


# -- merging partial documents (RFC 4575 §4.6) -------------------------------------------------------

BASE = Conference(
    ENTITY, "full", 1,
    description=ConferenceDescription(subject="Plans", conf_uris=URIList((URIEntry("sip:a@x"), URIEntry("sip:b@x")))),
    conference_state=ConferenceState(2, True, False),
    users=Users((
        User("sip:bob@x", display_text="Bob", roles=("participant",), endpoints=(
            Endpoint("sip:bob@pc", display_text="Laptop", status="connected",
                     media=(Media("1", type="audio", status="sendrecv"), Media("2", type="video"))),
            Endpoint("sip:bob@phone", status="connected"),
        )),
        User("sip:carol@x", display_text="Carol"),
    )),
)  # fmt: skip


def partial(version: int = 2, **parts) -> Conference:
    return Conference(ENTITY, "partial", version, **parts)


def test_a_partial_user_changes_only_what_it_carries():
    update = partial(users=Users((User("sip:bob@x", "partial", endpoints=(Endpoint("sip:bob@pc", "partial", status="on-hold"),)),), "partial"))  # fmt: skip
    merged = BASE.merge(update)
    assert merged.version == 2 and merged.state == "full"
    assert merged.users is not None
    bob = merged.users["sip:bob@x"]
    assert bob.display_text == "Bob" and bob.roles == ("participant",)
    laptop = bob.endpoint("sip:bob@pc")
    assert laptop is not None and laptop.status == "on-hold" and laptop.display_text == "Laptop"
    assert len(laptop.media) == 2 and bob.endpoint("sip:bob@phone") is not None
    assert [user.entity for user in merged.users] == ["sip:bob@x", "sip:carol@x"]
    assert merged.description == BASE.description and merged.conference_state == BASE.conference_state


def test_new_users_are_appended_and_deleted_ones_removed():
    update = partial(
        users=Users((User("sip:carol@x", "deleted"), User("sip:dave@x", "partial", "Dave")), "partial")
    )
    merged = BASE.merge(update)
    assert merged.users is not None
    assert [(user.entity, user.state) for user in merged.users] == [
        ("sip:bob@x", "full"),
        ("sip:dave@x", "full"),
    ]
    assert merged.users["sip:dave@x"].display_text == "Dave"


def test_a_full_user_replaces_the_old_one_and_a_deleted_endpoint_goes():
    update = partial(users=Users((
        User("sip:carol@x", "full", roles=("moderator",)),
        User("sip:bob@x", "partial", endpoints=(Endpoint("sip:bob@phone", "deleted"),)),
    ), "partial"))  # fmt: skip
    merged = BASE.merge(update)
    assert merged.users is not None
    assert merged.users["sip:carol@x"] == User("sip:carol@x", roles=("moderator",))  # display text gone
    assert [e.entity for e in merged.users["sip:bob@x"].endpoints] == ["sip:bob@pc"]


def test_media_are_matched_by_id_and_replaced_whole():
    update = partial(users=Users((User("sip:bob@x", "partial", endpoints=(
        Endpoint("sip:bob@pc", "partial", media=(Media("2", type="video", status="inactive"), Media("3", type="text"))),
    )),), "partial"))  # fmt: skip
    merged = BASE.merge(update)
    assert merged.users is not None
    media = merged.users["sip:bob@x"].endpoints[0].media
    assert media == (
        Media("1", type="audio", status="sendrecv"),
        Media("2", type="video", status="inactive"),
        Media("3", type="text"),
    )


def test_a_media_or_uri_entry_without_state_replaces_the_old_one_whole():
    update = partial(users=Users((User("sip:bob@x", "partial", endpoints=(
        Endpoint("sip:bob@pc", "partial", media=(Media("1", status="recvonly"),)),)),), "partial"))  # fmt: skip
    merged = BASE.merge(update)
    assert merged.users is not None
    assert merged.users["sip:bob@x"].endpoints[0].media[0] == Media("1", status="recvonly")  # type is gone
    aors = User(
        "sip:bob@x", "partial", associated_aors=URIList((URIEntry("sip:a@x", purpose="p"),), "partial")
    )
    merged = BASE.merge(partial(description=ConferenceDescription(conf_uris=URIList((URIEntry("sip:a@x", "A"),), "partial")),
                                users=Users((aors,), "partial")))  # fmt: skip
    assert merged.description is not None and merged.description.conf_uris is not None
    assert merged.description.conf_uris.entries[0] == URIEntry("sip:a@x", "A")
    assert merged.users is not None and merged.users["sip:bob@x"].associated_aors == URIList(
        (URIEntry("sip:a@x", purpose="p"),)
    )


def test_a_full_users_element_in_a_partial_document_replaces_every_user():
    merged = BASE.merge(partial(users=Users((User("sip:erin@x"),), "full")))
    assert merged.users is not None and [user.entity for user in merged.users] == ["sip:erin@x"]


def test_containers_without_state_are_merged_child_by_child_and_uri_lists_by_uri():
    update = partial(
        description=ConferenceDescription(
            display_text="Weekly",
            conf_uris=URIList((URIEntry("sip:b@x", "B"), URIEntry("sip:c@x")), "partial"),
        ),
        conference_state=ConferenceState(user_count=3),
    )
    merged = BASE.merge(update)
    assert merged.description is not None
    assert (merged.description.display_text, merged.description.subject) == ("Weekly", "Plans")
    assert merged.description.conf_uris is not None
    assert [(e.uri, e.display_text) for e in merged.description.conf_uris] == [
        ("sip:a@x", None), ("sip:b@x", "B"), ("sip:c@x", None)
    ]  # fmt: skip
    assert merged.conference_state == ConferenceState(3, True, False)
    assert merged.users == BASE.users
    replaced = BASE.merge(
        partial(description=ConferenceDescription(conf_uris=URIList((URIEntry("sip:z@x"),))))
    )
    assert replaced.description is not None and replaced.description.conf_uris == URIList(
        (URIEntry("sip:z@x"),)
    )
    assert BASE.merge(
        partial(description=ConferenceDescription(conf_uris=URIList((), "deleted")))
    ).description == (ConferenceDescription(subject="Plans"))


def test_a_partial_element_new_to_the_state_is_stored_as_full():
    update = partial(host_info=HostInfo(uris=URIList((URIEntry("sip:h@x"),), "partial")),
                     users=Users((User("sip:new@x", "partial", endpoints=(Endpoint("sip:new@h", "partial"),)),), "partial"))  # fmt: skip
    merged = BASE.merge(update)
    assert merged.host_info == HostInfo(uris=URIList((URIEntry("sip:h@x"),), "full"))
    assert merged.users is not None
    assert merged.users["sip:new@x"] == User("sip:new@x", "full", endpoints=(Endpoint("sip:new@h", "full"),))


def test_a_deleted_users_element_clears_the_users_and_a_full_or_deleted_document_replaces_all():
    assert BASE.merge(partial(users=Users((), "deleted"))).users is None
    full = Conference(ENTITY, "full", 9)
    assert BASE.merge(full) is full
    gone = Conference(ENTITY, "deleted", 10)
    assert BASE.merge(gone) is gone


# -- the version rules ---------------------------------------------------------------------------------


def test_the_tracker_applies_full_then_consecutive_partials_and_ignores_old_ones():
    tracker = ConferenceTracker()
    assert tracker.receive(partial(2)) is Verdict.NEEDS_FULL_STATE  # no full state yet
    assert tracker.conference is None
    assert tracker.receive(BASE) is Verdict.APPLIED and tracker.conference is BASE
    dave = partial(2, users=Users((User("sip:dave@x", "partial"),), "partial"))
    assert tracker.receive(dave) is Verdict.APPLIED
    assert tracker.conference is not None and tracker.conference.version == 2
    assert tracker.receive(dave) is Verdict.IGNORED  # repeated
    assert tracker.receive(replace(BASE, version=2)) is Verdict.IGNORED  # an old full one
    assert tracker.receive(partial(1)) is Verdict.IGNORED
    before = tracker.conference
    assert tracker.receive(partial(4)) is Verdict.NEEDS_FULL_STATE  # 3 is missing
    assert tracker.conference is before
    assert tracker.receive(replace(BASE, version=5)) is Verdict.APPLIED
    tracker.reset()
    assert tracker.conference is None and tracker.receive(replace(BASE, version=1)) is Verdict.APPLIED


def test_after_a_deleted_document_only_full_state_is_taken():
    tracker = ConferenceTracker()
    tracker.receive(BASE)
    assert tracker.receive(Conference(ENTITY, "deleted", 2)) is Verdict.APPLIED
    assert tracker.receive(partial(3)) is Verdict.NEEDS_FULL_STATE


def test_documents_without_a_version_are_taken_in_arrival_order():
    tracker = ConferenceTracker()
    assert tracker.receive(replace(BASE, version=None)) is Verdict.APPLIED
    assert tracker.receive(partial(None, conference_state=ConferenceState(7))) is Verdict.APPLIED  # type: ignore[arg-type]
    assert tracker.conference is not None and tracker.conference.conference_state == ConferenceState(
        7, True, False
    )


# -- properties ------------------------------------------------------------------------------------------

texts = (
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)
tokens = st.lists(st.from_regex(r"\A[a-z0-9-]{1,6}\Z"), max_size=3).map(tuple)
states = st.sampled_from(["full", "partial", "deleted"])
optional_texts = st.none() | texts
dates = st.none() | st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.none() | st.just(UTC) | st.just(timezone(timedelta(hours=-5))),
)  # fmt: skip
executions = st.none() | st.builds(Execution, dates, optional_texts, optional_texts)
uri_lists = st.none() | st.builds(
    URIList,
    st.lists(st.builds(URIEntry, texts, optional_texts, optional_texts), max_size=2).map(tuple),
    states,
)
media = st.builds(
    Media, texts, optional_texts, optional_texts, optional_texts, optional_texts, optional_texts
)
endpoints = st.builds(
    Endpoint, optional_texts, states, optional_texts, executions, optional_texts, optional_texts, executions,
    optional_texts, executions, st.lists(media, max_size=2).map(tuple),
)  # fmt: skip
users = st.builds(
    User, optional_texts, states, optional_texts, uri_lists, st.none() | st.lists(texts, max_size=2).map(tuple),
    st.none() | tokens, st.lists(endpoints, max_size=2).map(tuple),
)  # fmt: skip
counts = st.none() | st.integers(0, 2**32 - 1)
conferences = st.builds(
    Conference, texts, states, counts,
    st.none() | st.builds(
        ConferenceDescription, optional_texts, optional_texts, optional_texts, st.none() | tokens, uri_lists,
        uri_lists, counts,
        st.none() | st.lists(st.builds(AvailableMedia, texts, optional_texts, optional_texts, optional_texts),
                             max_size=2).map(tuple),
    ),
    st.none() | st.builds(HostInfo, optional_texts, optional_texts, uri_lists),
    st.none() | st.builds(ConferenceState, counts, st.none() | st.booleans(), st.none() | st.booleans()),
    st.none() | st.builds(Users, st.lists(users, max_size=3).map(tuple), states),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(conferences)
def test_any_conference_written_reads_back_equal_and_its_text_is_canonical(conference):
    text = conference.to_xml()
    again = Conference.parse(text)
    assert again == conference
    assert again.to_xml() == text


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_input_parses_or_raises_parser_error_only(data):
    try:
        conference = Conference.parse(data)
    except ParserError:
        return
    assert Conference.parse(conference.to_xml()) == conference


def _mutations(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(data) + 1)
        choice = rng.randrange(4)
        if choice == 0 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif choice == 1:
            data[position:position] = rng.choice([b"<", b">", b"&", b'"', b"<x>", b"</users>", b"\x00", b"9"])
        elif choice == 2:
            del data[position : position + rng.randint(1, 8)]
        else:
            data[position:position] = data[: rng.randint(0, 20)]
    return bytes(data)


def test_mutated_documents_parse_or_raise_parser_error_only():
    """A fuzz pass over byte-level mutations of the RFC examples (or our canonical BASE)."""
    seeds = [path.read_bytes() for path in RFC4575_FILES] or [BASE.to_xml()]
    rng = random.Random(4575)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(1500):
        data = _mutations(rng.choice(seeds), rng)
        try:
            Conference.parse(data)
        except ParserError:
            outcomes["refused"] += 1
        else:
            outcomes["parsed"] += 1
    assert outcomes["refused"] > 0 and outcomes["parsed"] > 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["full", "partial", "deleted"]), st.integers(1, 8)), max_size=12))
def test_the_tracked_version_never_goes_back_and_applied_means_changed(sequence):
    tracker = ConferenceTracker()
    for state, version in sequence:
        before = tracker.conference
        verdict = tracker.receive(
            Conference(ENTITY, state, version, conference_state=ConferenceState(version))
        )
        after = tracker.conference
        if verdict is Verdict.APPLIED:
            assert after is not None and after.version == version
            assert before is None or before.version is None or version > before.version  # type: ignore[operator]
        else:
            assert after is before


def test_a_value_xml_cannot_carry_is_refused_when_writing():
    with pytest.raises(ValueError, match="XML 1.0 cannot carry"):
        Conference(ENTITY, users=Users((User("sip:u@x", display_text="bell \x07"),))).to_xml()
