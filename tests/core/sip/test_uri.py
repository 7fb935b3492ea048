"""Tests for sipsimple.core.sip.uri (SIP/SIPS URIs, RFC 3261 §19.1 and §25, RFC 5118) and
sipsimple.core.sip.credentials.

URIs are tested by fields, by canonical round trip, by the RFC 3261 §19.1.4 comparison examples,
on the Request-URIs of the RFC 4475/5118 torture messages when the corpora are present, and by
property tests: generated URIs round-trip, and arbitrary text only ever raises SIPParseError.
"""

from __future__ import annotations

import copy
import os
import pickle
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsimple.core.sip._scanner import SIPScanError, scan
from sipsimple.core.sip.credentials import Credentials, FrozenCredentials
from sipsimple.core.sip.uri import (
    SIPURI,
    AbsoluteURI,
    FrozenSIPURI,
    SIPParseError,
    parse_any_uri,
    parse_uri,
)

CORPORA = Path(
    os.environ.get("SIPSIMPLE_CORPORA", Path(__file__).resolve().parents[3].parent / "shared" / "corpora")
)


def request_uri(directory: str, name: str) -> str:
    path = CORPORA / directory / name
    if not path.exists():
        pytest.skip(f"corpus file {path} is not present")
    uri = scan(path.read_bytes()).request_uri
    assert uri is not None
    return uri


# ---------------------------------------------------------------------------------------------
# Fields


def test_parse_gives_every_component_unescaped() -> None:
    uri = SIPURI.parse("sip:alice:secret@atlanta.example.com:5070;transport=TCP;lr?Subject=hi%20there&x=")
    assert uri.user == "alice"
    assert uri.password == "secret"
    assert uri.host == "atlanta.example.com"
    assert uri.port == 5070
    assert uri.secure is False
    assert uri.parameters == {"transport": "TCP", "lr": None}
    assert list(uri.parameters) == ["transport", "lr"]
    assert uri.headers == {"Subject": "hi there", "x": ""}


def test_sips_scheme_sets_secure_and_scheme_case_is_ignored() -> None:
    assert SIPURI.parse("sips:bob@biloxi.example.com").secure is True
    assert SIPURI.parse("SIPS:bob@biloxi.example.com").secure is True
    assert str(SIPURI.parse("SIP:bob@biloxi.example.com")) == "sip:bob@biloxi.example.com"


def test_host_only_uri_has_no_user_password_or_port() -> None:
    uri = SIPURI.parse("sip:registrar.example.com")
    assert (uri.user, uri.password, uri.port) == (None, None, None)


def test_ipv6_reference_is_stored_without_brackets_and_written_with_them() -> None:
    uri = SIPURI.parse("sip:alice@[2001:db8::10]:5070")
    assert uri.host == "2001:db8::10"
    assert uri.port == 5070
    assert str(uri) == "sip:alice@[2001:db8::10]:5070"
    assert str(SIPURI("2001:db8::1")) == "sip:[2001:db8::1]"
    assert SIPURI("[2001:db8::1]").host == "2001:db8::1"


def test_ipv4_mapped_ipv6_reference_is_accepted() -> None:
    assert SIPURI.parse("sip:ted@[::ffff:192.0.2.2]").host == "::ffff:192.0.2.2"


def test_three_colon_ipv6_typo_of_rfc5118_is_repaired() -> None:
    uri = SIPURI.parse("sip:user@[2001:db8:::192.0.2.1]")
    assert uri.host == "2001:db8::192.0.2.1"
    assert uri == SIPURI.parse("sip:user@[2001:db8::192.0.2.1]")


def test_escaped_user_is_unescaped_and_reserved_characters_are_escaped_again() -> None:
    uri = SIPURI.parse("sip:sips%3Auser%40example.com@example.net")
    assert uri.user == "sips:user@example.com"
    assert str(uri) == "sip:sips%3Auser%40example.com@example.net"


def test_unreserved_escapes_are_written_plain() -> None:
    uri = SIPURI.parse("sip:%75se%72@example.com")
    assert uri.user == "user"
    assert str(uri) == "sip:user@example.com"


def test_escaped_null_is_kept_and_not_truncated() -> None:
    uri = SIPURI.parse("sip:null-%00-null@example.com")
    assert uri.user == "null-\x00-null"
    assert str(uri) == "sip:null-%00-null@example.com"


def test_escaped_utf8_becomes_text_and_invalid_utf8_survives_a_round_trip() -> None:
    assert SIPURI.parse("sip:%C3%A9t%C3%A9@example.com").user == "été"
    odd = SIPURI.parse("sip:%FFx@example.com")
    assert str(odd) == "sip:%FFx@example.com"


def test_parameter_names_and_values_are_unescaped() -> None:
    uri = SIPURI.parse("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31")
    assert uri.user == "caller"
    assert uri.parameters == {"lr": None, "name": "value%41"}
    assert str(uri) == "sip:caller@host5.example.net;lr;name=value%2541"


def test_semicolon_in_user_part_belongs_to_the_user() -> None:
    uri = SIPURI.parse("sip:user;par=u%40example.net@example.com")
    assert uri.user == "user;par=u@example.net"
    assert uri.host == "example.com"
    assert uri.parameters == {}


def test_password_and_odd_user_characters_of_intmeth() -> None:
    text = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com"
    uri = SIPURI.parse(text)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert str(uri) == text


def test_empty_password_is_distinct_from_no_password() -> None:
    assert SIPURI.parse("sip:alice:@example.com").password == ""
    assert str(SIPURI.parse("sip:alice:@example.com")) == "sip:alice:@example.com"


def test_transport_property_defaults_and_lowercases() -> None:
    assert SIPURI("example.com").transport == "udp"
    assert SIPURI("example.com", secure=True).transport == "tls"
    assert SIPURI.parse("sip:example.com;Transport=TCP").transport == "tcp"
    assert SIPURI.parse("sips:example.com;transport=tcp").transport == "tls"
    assert SIPURI.parse("sip:example.com;transport=sctp").transport == "sctp"


def test_constructor_rejects_a_port_out_of_range() -> None:
    with pytest.raises(ValueError):
        SIPURI("example.com", port=70000)


def test_repr_shows_the_uri() -> None:
    assert repr(SIPURI("example.com", "alice")) == '<SIPURI "sip:alice@example.com">'
    assert repr(FrozenSIPURI("example.com")) == '<FrozenSIPURI "sip:example.com">'


# ---------------------------------------------------------------------------------------------
# Serialisation

CANONICAL = [
    "sip:alice@atlanta.com",
    "sip:alice:secretword@atlanta.com;transport=tcp",
    "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
    "sip:+1-212-555-1212:1234@gateway.com;user=phone",
    "sips:1212@gateway.com",
    "sip:alice@192.0.2.4",
    "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
    "sip:alice;day=tuesday@atlanta.com",
    "sip:[2001:db8::10]:5070;maddr=[2001:db8::1];lr",
    "sip:host.example.com.:5060",
    "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
    "sip:p1.example.com;lr;unknownwith=value;unknown-no-value",
]


@pytest.mark.parametrize("text", CANONICAL)
def test_canonical_uri_serialises_to_itself(text: str) -> None:
    assert str(SIPURI.parse(text)) == text
    assert str(FrozenSIPURI.parse(text)) == text


def test_serialisation_escapes_what_each_component_forbids() -> None:
    uri = SIPURI(
        "example.com", user="a b@c", password="p:w", parameters={"x y": "1;2"}, headers={"h": "a&b=c"}
    )
    assert str(uri) == "sip:a%20b%40c:p%3Aw@example.com;x%20y=1%3B2?h=a%26b%3Dc"
    assert SIPURI.parse(str(uri)) == uri
    assert SIPURI.parse(str(uri)).parameters == {"x y": "1;2"}


def test_empty_user_is_left_out() -> None:
    assert str(SIPURI("example.com", user="")) == "sip:example.com"


# ---------------------------------------------------------------------------------------------
# Rejected input

BAD_URIS = [
    "",
    "sip",
    "sip:",
    "sipx:alice@example.com",
    "tel:+15551234",
    "<sip:user@example.com>",
    "sip:@example.com",
    "sip:alice@",
    "sip:alice@example.com:",
    "sip:alice@example.com:99999",
    "sip:alice@example.com:50a",
    "sip:2001:db8::10",
    "sip:[2001:db8::10",
    "sip:[2001:db8::g]",
    "sip:[2001:db8::10]x",
    "sip:[fe80::1%25eth0]",
    "sip:300.1.1.1",
    "sip:1.2.3",
    "sip:-example.com",
    "sip:example..com",
    "sip:exa mple.com",
    "sip:a b@example.com",
    "sip:us%zzer@example.com",
    "sip:alice@example.com;",
    "sip:alice@example.com;=x",
    "sip:alice@example.com;a=b;;c",
    "sip:alice@example.com;a=b c",
    "sip:alice@example.com?",
    "sip:alice@example.com?=v",
    "sip:alice@example.com?a=b;c",
    "sip:a@b@c",
    "sip:é@example.com",
]


@pytest.mark.parametrize("text", BAD_URIS)
def test_malformed_uri_raises_sip_parse_error(text: str) -> None:
    with pytest.raises(SIPParseError):
        SIPURI.parse(text)


def test_parse_error_message_says_what_and_where() -> None:
    with pytest.raises(SIPParseError) as info:
        SIPURI.parse("sip:alice@example.com:99999")
    assert "port" in str(info.value)
    assert "sip:alice@example.com:99999" in str(info.value)
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------------------------
# RFC 3261 §19.1.4 comparison

EQUIVALENT = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    (
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ),
    (
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ),
    ("sip:user@[2001:db8::10]", "sip:user@[2001:DB8:0::10]"),
]

NOT_EQUIVALENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
    ("sip:alice@atlanta.com", "sip:alice:pw@atlanta.com"),
    ("sip:alice@atlanta.com;maddr=239.255.255.1", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com;user=phone", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com;ttl=15", "sip:alice@atlanta.com;ttl=16"),
    ("sip:alice@atlanta.com;method=INVITE", "sip:alice@atlanta.com"),
]


@pytest.mark.parametrize(("a", "b"), EQUIVALENT)
def test_rfc3261_equivalent_uris_compare_equal_with_equal_hashes(a: str, b: str) -> None:
    assert SIPURI.parse(a) == SIPURI.parse(b)
    assert SIPURI.parse(b).matches(SIPURI.parse(a))
    assert hash(FrozenSIPURI.parse(a)) == hash(FrozenSIPURI.parse(b))


@pytest.mark.parametrize(("a", "b"), NOT_EQUIVALENT)
def test_rfc3261_different_uris_compare_unequal(a: str, b: str) -> None:
    assert SIPURI.parse(a) != SIPURI.parse(b)
    assert not FrozenSIPURI.parse(a).matches(FrozenSIPURI.parse(b))


def test_uri_is_not_equal_to_its_text() -> None:
    assert SIPURI.parse("sip:a@b.com") != "sip:a@b.com"
    assert not SIPURI.parse("sip:a@b.com").matches("sip:a@b.com")


# ---------------------------------------------------------------------------------------------
# Mutable and frozen


def test_frozen_uri_is_immutable() -> None:
    uri = FrozenSIPURI.parse("sip:alice@example.com;lr?h=v")
    with pytest.raises(AttributeError):
        uri.user = "bob"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del uri.host
    with pytest.raises(TypeError):
        uri.parameters["x"] = "y"  # type: ignore[index]
    with pytest.raises(TypeError):
        uri.headers.clear()


def test_frozen_uri_works_as_a_dict_key_and_matches_the_mutable_one() -> None:
    frozen = FrozenSIPURI.parse("sip:alice@example.com;transport=tcp")
    table = {frozen: "alice"}
    assert table[FrozenSIPURI.parse("sip:alice@EXAMPLE.com;transport=TCP")] == "alice"
    assert frozen == SIPURI.parse("sip:alice@example.com;transport=tcp")


def test_mutable_uri_is_unhashable_and_can_be_changed() -> None:
    uri = SIPURI.parse("sip:alice@example.com")
    with pytest.raises(TypeError):
        hash(uri)
    uri.user = "bob"
    uri.parameters["transport"] = "tcp"
    assert str(uri) == "sip:bob@example.com;transport=tcp"


def test_conversions_keep_equality_and_serialisation() -> None:
    uri = SIPURI.parse("sips:alice:pw@[2001:db8::1]:5061;transport=tcp?x=y")
    frozen = FrozenSIPURI.new(uri)
    back = SIPURI.new(frozen)
    assert type(frozen) is FrozenSIPURI and type(back) is SIPURI
    assert uri == frozen == back
    assert str(uri) == str(frozen) == str(back)
    assert FrozenSIPURI.new(frozen) is frozen


def test_copies_of_a_mutable_uri_are_independent() -> None:
    uri = SIPURI.parse("sip:alice@example.com;lr")
    for duplicate in (uri.copy(), copy.copy(uri), copy.deepcopy(uri), SIPURI.new(uri)):
        duplicate.parameters["x"] = "1"
        assert duplicate is not uri
        assert "x" not in uri.parameters


def test_uris_pickle() -> None:
    for uri in (SIPURI.parse("sip:a:b@c.com:1;x=2?y=3"), FrozenSIPURI.parse("sips:[::1]")):
        clone = pickle.loads(pickle.dumps(uri))
        assert type(clone) is type(uri)
        assert str(clone) == str(uri)


# ---------------------------------------------------------------------------------------------
# parse_uri, parse_any_uri and AbsoluteURI


def test_parse_uri_accepts_only_sip_and_sips() -> None:
    assert isinstance(parse_uri("sip:a@b.com"), SIPURI)
    with pytest.raises(SIPParseError):
        parse_uri("tel:+15551234")


def test_parse_any_uri_returns_absolute_uri_for_other_schemes() -> None:
    tel = parse_any_uri("tel:+1-201-555-0123")
    assert isinstance(tel, AbsoluteURI)
    assert (tel.scheme, tel.rest) == ("tel", "+1-201-555-0123")
    assert str(tel) == "tel:+1-201-555-0123"
    assert isinstance(parse_any_uri("sips:a@b.com", frozen=True), FrozenSIPURI)
    assert isinstance(parse_any_uri("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"), AbsoluteURI)


@pytest.mark.parametrize("text", ["", "tel", ":x", "1tel:x", "tel:", "http://a b", "mailto:<x>", "x:\x00"])
def test_malformed_absolute_uri_raises_sip_parse_error(text: str) -> None:
    with pytest.raises(SIPParseError):
        parse_any_uri(text)


def test_absolute_uri_compares_scheme_ignoring_case_and_is_immutable() -> None:
    a = AbsoluteURI.parse("TEL:+15551234")
    assert a == AbsoluteURI("tel", "+15551234")
    assert hash(a) == hash(AbsoluteURI("tel", "+15551234"))
    assert a != AbsoluteURI("tel", "+15551235")
    assert a != SIPURI("example.com")
    with pytest.raises(AttributeError):
        a.scheme = "sip"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(a)) == a


# ---------------------------------------------------------------------------------------------
# Torture corpora (Request-URIs)


def test_request_uri_of_esc01_has_an_escaped_sips_uri_as_user() -> None:
    uri = parse_uri(request_uri("rfc4475", "esc01.sip"))
    assert uri.user == "sips:user@example.com"
    assert uri.host == "example.net"


def test_request_uri_of_semiuri_keeps_the_semicolon_in_the_user() -> None:
    uri = parse_uri(request_uri("rfc4475", "semiuri.sip"))
    assert uri.user == "user;par=u@example.net"
    assert uri.parameters == {}


def test_request_uri_of_intmeth_round_trips() -> None:
    text = request_uri("rfc4475", "intmeth.sip")
    assert str(parse_uri(text)) == text


def test_request_uri_of_wsinv_has_an_unknown_parameter_without_value() -> None:
    assert parse_uri(request_uri("rfc4475", "wsinv.sip")).parameters == {"unknownparam": None}


def test_request_uri_of_escruri_carries_headers_for_the_message_layer_to_reject() -> None:
    uri = parse_uri(request_uri("rfc4475", "escruri.sip"))
    assert uri.headers == {"Route": "<sip:example.com>"}


def test_request_uri_of_ltgtruri_in_angle_brackets_is_rejected() -> None:
    with pytest.raises(SIPParseError):
        parse_any_uri(request_uri("rfc4475", "ltgtruri.sip"))


@pytest.mark.parametrize(
    ("name", "scheme"), [("unkscm.sip", "nobodyKnowsThisScheme"), ("novelsc.sip", "soap.beep")]
)
def test_request_uri_with_unknown_scheme_is_an_absolute_uri(name: str, scheme: str) -> None:
    text = request_uri("rfc4475", name)
    uri = parse_any_uri(text)
    assert isinstance(uri, AbsoluteURI)
    assert uri.scheme == scheme
    with pytest.raises(SIPParseError):
        parse_uri(text)


def test_request_uri_of_ipv6_bad_without_brackets_is_rejected() -> None:
    with pytest.raises(SIPParseError):
        parse_uri(request_uri("rfc5118", "ipv6-bad.sip"))


@pytest.mark.parametrize(
    ("name", "host", "port"),
    [
        ("ipv6-good.sip", "2001:db8::10", None),
        ("port-ambiguous.sip", "2001:db8::10:5070", None),
        ("port-unambiguous.sip", "2001:db8::10", 5070),
        ("ipv6-correct-abnf-2-colons.sip", "2001:db8::192.0.2.1", None),
        ("ipv6-bug-abnf-3-colons.sip", "2001:db8::192.0.2.1", None),
    ],
)
def test_ipv6_request_uris_of_rfc5118(name: str, host: str, port: int | None) -> None:
    uri = parse_uri(request_uri("rfc5118", name))
    assert (uri.host, uri.port) == (host, port)


def test_every_corpus_request_uri_is_parsed_or_rejected_with_sip_parse_error() -> None:
    files = sorted(CORPORA.glob("rfc4475/*.sip")) + sorted(CORPORA.glob("rfc5118/*.sip"))
    if not files:
        pytest.skip("corpora are not present")
    accepted = 0
    for path in files:
        try:
            message = scan(path.read_bytes())
        except SIPScanError:
            continue
        if message.request_uri is None:
            continue
        try:
            uri = parse_any_uri(message.request_uri)
        except SIPParseError:
            continue
        accepted += 1
        assert parse_any_uri(str(uri)) == uri
    assert accepted >= 40


# ---------------------------------------------------------------------------------------------
# Credentials


def test_credentials_repr_does_not_show_the_password() -> None:
    credentials = Credentials("alice", "s3cr3t")
    assert repr(credentials) == "<Credentials for 'alice'>"
    assert "s3cr3t" not in repr(FrozenCredentials("alice", "s3cr3t", "example.com"))
    assert credentials.realm == "*"


def test_frozen_credentials_are_hashable_immutable_and_convert_both_ways() -> None:
    credentials = Credentials("alice", "pw", "example.com")
    frozen = FrozenCredentials.new(credentials)
    assert frozen == credentials == Credentials.new(frozen)
    assert {frozen: 1}[FrozenCredentials("alice", "pw", "example.com")] == 1
    with pytest.raises(AttributeError):
        frozen.password = "x"  # type: ignore[misc]
    credentials.password = "new"
    assert credentials != frozen
    assert pickle.loads(pickle.dumps(frozen)) == frozen


# ---------------------------------------------------------------------------------------------
# Properties

_PRINTABLE = st.characters(codec="utf-8", exclude_categories=("Cs",))
_HOSTS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9]{0,7}(-[a-z0-9]{1,5})?(\.[a-z]{1,6}){0,3}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)
_PARAMS = st.dictionaries(
    st.text(_PRINTABLE, min_size=1, max_size=6), st.none() | st.text(_PRINTABLE, max_size=6), max_size=3
)


@st.composite
def sip_uris(draw: st.DrawFn) -> SIPURI:
    user = draw(st.none() | st.text(_PRINTABLE, min_size=1, max_size=10))
    return SIPURI(
        host=draw(_HOSTS),
        user=user,
        password=draw(st.none() | st.text(_PRINTABLE, max_size=6)) if user else None,
        port=draw(st.none() | st.integers(0, 65535)),
        secure=draw(st.booleans()),
        parameters=draw(_PARAMS),
        headers=draw(
            st.dictionaries(
                st.text(_PRINTABLE, min_size=1, max_size=6), st.text(_PRINTABLE, max_size=6), max_size=3
            )
        ),
    )


@settings(max_examples=800, deadline=None)
@given(sip_uris())
def test_generated_uris_round_trip_component_for_component(uri: SIPURI) -> None:
    parsed = SIPURI.parse(str(uri))
    assert (parsed.host, parsed.user, parsed.password, parsed.port, parsed.secure) == (
        uri.host,
        uri.user,
        uri.password,
        uri.port,
        uri.secure,
    )
    assert parsed.parameters == uri.parameters
    assert parsed.headers == uri.headers
    assert str(parsed) == str(uri)
    assert parsed == uri


_URI_FRAGMENTS = [
    "sip:", "sips:", "SIP:", "tel:", "x:", "alice", "@", ":", "%", "%4", "%41", "%zz", "%00", "[", "]",
    "::1", "2001:db8::", "192.0.2.1", "300", ".", "-", "example.com", ";", "=", "?", "&", "lr",
    "transport=tcp", " ", "\t", "<", ">", '"', ",", "é", "\x00", "5060", "65536",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str], fragments: list[str]) -> str:
    """A valid URI with a few slices deleted or fragments inserted: reaches the deep paths."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + text[at + draw(st.integers(1, 4)) :]
        else:
            text = text[:at] + draw(st.sampled_from(fragments)) + text[at:]
    return text


_URI_TEXT = st.one_of(
    st.text(string.printable, max_size=40),
    st.lists(st.sampled_from(_URI_FRAGMENTS), max_size=14).map("".join),
    mutated(CANONICAL, _URI_FRAGMENTS),
)


# 600 examples of 10 texts each: 6,000 inputs for every parser (batched, because hypothesis'
# own cost per example is far above the cost of a parse).
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_URI_TEXT, min_size=10, max_size=10))
def test_arbitrary_text_only_raises_sip_parse_error_and_accepted_uris_are_stable(texts: list[str]) -> None:
    for text in texts:
        for parse in (SIPURI.parse, FrozenSIPURI.parse, AbsoluteURI.parse, parse_any_uri):
            try:
                uri = parse(text)
            except SIPParseError:
                continue
            again = type(uri).parse(str(uri))
            assert again == uri
            assert str(again) == str(uri)
