"""Tests for sipsimple.core.sip._fastparse: the C fast paths give the Python parsers' objects.

The property checked everywhere is *equivalence*: for a header value, the fast parser and the
Python parser of the frozen class either both return objects that are identical in structure
(same classes, same field values of the same types, same parameter order; hence also ``==`` and
the same ``.body``), or both raise the same exception with the same message. It is checked on
every header value of the RFC 4475/5118 torture corpora (when present), on values generated
from the header classes' own serialisation, on mutations of those, and on garbage text: about
29,000 generated cases in all. Separate tests show that the common shapes really take the C path
(the Python parser is never called for them), that the unusual ones reach the Python parser, that
``parse_header`` is wired to the fast parsers, and that ``serialises_verbatim`` says True exactly
when ``SIPMessage.to_bytes()`` would give back the received bytes.
"""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsimple.core.sip import _fastparse, headers
from sipsimple.core.sip._scanner import SIPScanError, scan
from sipsimple.core.sip.headers import (
    BaseHeader,
    CallIDHeader,
    ContactHeader,
    CSeqHeader,
    FromHeader,
    FrozenCallIDHeader,
    FrozenContactHeader,
    FrozenCSeqHeader,
    FrozenFromHeader,
    FrozenToHeader,
    FrozenViaHeader,
    QuotedString,
    ToHeader,
    ViaHeader,
    parse_header,
)
from sipsimple.core.sip.message import parse_message
from sipsimple.core.sip.uri import SIPURI, BaseSIPURI, FrozenSIPURI

REPOSITORY = Path(__file__).resolve().parents[3]
CORPORA = Path(
    os.environ.get("SIPSIMPLE_CORPORA", Path(__file__).resolve().parents[3].parent / "shared" / "corpora")
)

#: (header name, fast parser, the Python parser it must agree with)
PARSERS: list[tuple[str, Callable[[str], Any], Callable[[str], Any]]] = [
    ("Via", _fastparse.parse_via_list, FrozenViaHeader.parse_list),
    ("From", _fastparse.parse_from, FrozenFromHeader.parse),
    ("To", _fastparse.parse_to, FrozenToHeader.parse),
    ("Contact", _fastparse.parse_contact_list, FrozenContactHeader.parse_list),
    ("CSeq", _fastparse.parse_cseq, FrozenCSeqHeader.parse),
    ("Call-ID", _fastparse.parse_call_id, FrozenCallIDHeader.parse),
    ("URI", _fastparse.parse_sip_uri, FrozenSIPURI.parse),
]
BY_NAME = {name: (fast, slow) for name, fast, slow in PARSERS}


def structure(obj: object) -> object:
    """Everything that makes two parse results the same object graph, types included."""
    if isinstance(obj, list):
        return ["list", [structure(item) for item in obj]]
    if isinstance(obj, BaseHeader):
        return (type(obj), tuple((name, structure(getattr(obj, name))) for name in obj._fields))
    if isinstance(obj, BaseSIPURI):
        return (type(obj), tuple((name, structure(getattr(obj, name))) for name in obj._FIELDS))
    if isinstance(obj, dict):
        return (type(obj), tuple((structure(k), structure(v)) for k, v in obj.items()))
    return (type(obj), obj)


def outcome(parse: Callable[[str], Any], value: str) -> tuple[Any, ...]:
    try:
        result = parse(value)
    except Exception as error:  # the Python parser's own exception must come out of both
        return ("raised", type(error), str(error))
    return ("parsed", result)


def assert_equivalent(name: str, value: str) -> None:
    fast, slow = BY_NAME[name]
    got, expected = outcome(fast, value), outcome(slow, value)
    if expected[0] == "raised":
        assert got == expected, (name, value)
        return
    assert got[0] == "parsed", (name, value, got)
    mine, theirs = got[1], expected[1]
    assert structure(mine) == structure(theirs), (name, value)
    assert mine == theirs, (name, value)
    if isinstance(theirs, list):
        assert [h.body for h in mine] == [h.body for h in theirs]
        assert [hash(h) for h in mine] == [hash(h) for h in theirs]
    else:
        assert str(mine) == str(theirs) and hash(mine) == hash(theirs)
        if isinstance(theirs, BaseHeader):
            assert mine.body == theirs.body


def assert_all_equivalent(value: str) -> None:
    for name, _, _ in PARSERS:
        assert_equivalent(name, value)


# ---------------------------------------------------------------------------------------------
# Hand-picked values: what takes the C path and what goes back to Python


COMMON = {
    "Via": [
        "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport",
        "SIP/2.0/TCP 192.0.2.4;branch=z9hG4bK-1;received=192.0.2.99;rport=5061",
        "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TLS b.example.com:5061;branch=z9hG4bK2",
        "sip/2.0/udp host.example.com ; branch = z9hG4bK1 ;ttl=16;maddr=224.2.0.1",
        "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7;received=[2001:db8::1]",
        'SIP/2.0/UDP h.example.com;branch=z9hG4bK1;x="quoted, with comma"',
    ],
    "From": [
        "Alice <sip:alice@atlanta.example.com>;tag=1928301774",
        '"Alice Liddell" <sip:alice@atlanta.example.com;transport=tcp>;tag=88sja8x',
        "sip:alice@atlanta.example.com;tag=1",
        "Bob  The\tBuilder <sips:bob:secret@biloxi.example.com:5061;lr;user=phone>",
        "<sip:+12125551212@phone.example.net;user=phone>;tag=887s",
    ],
    "To": ["Bob <sip:bob@biloxi.example.com>", "<sip:bob@192.0.2.4>;tag=a6c85cf", "<sip:b@example.com>;tag"],
    "Contact": [
        "<sip:alice@pc33.atlanta.example.com;transport=udp>",
        '<sip:alice@192.0.2.10:5060;transport=tcp;ob>;expires=3600;reg-id=1;+sip.instance="<urn:uuid:0>",'
        " <sip:alice@pc33.atlanta.example.com>;q=0.5",
        "sip:a@b.example.com;q=1.000, sip:c@d.example.com;expires=0",
        '"Mr. Watson" <sip:watson@worcester.bell-telephone.com>;q=0.7;expires=3600',
    ],
    "CSeq": ["314159 INVITE", "1 REGISTER", "0004294967295 X-CUSTOM.method", " 1 \t INVITE "],
    "Call-ID": ["a84b4c76e66710@pc33.atlanta.example.com", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "x<y>{z}"],
    "URI": ["sip:bob@biloxi.example.com", "sips:a:b@h.example.com:5061;transport=tcp;lr", "SIP:h.example"],
}

UNUSUAL = {
    "Via": [
        "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1",
        "SIP / 2.0 / UDP host.example.com",
        "SIP/2.0/UDP host.example.com : 5060",
        'SIP/2.0/UDP h;x="a\\"b"',
        "SIP/2.0/UDP h;rport=x",
        "SIP/2.0/UDP h;ttl",
        "SIP/2.0/UDP h;rport=70000",
        "SIP/2.0/UDP 256.1.1.1",
        "SIP/2.0/UDP h,",
        "SIP/2.0/UDP h,,SIP/2.0/UDP i",
        "",
    ],
    "From": [
        '"Al\\"ice" <sip:alice@example.com>',
        "<sip:%61lice@example.com>",
        "<tel:+1-201-555-0123>",
        "<sip:[2001:db8::10]:5070>",
        "<sip:alice@example.com?subject=hi>",
        "Ålice <sip:alice@example.com>",
        "<sip:alice@example.com>, <sip:bob@example.com>",
        "< sip:alice@example.com>",
        "sip:alice@example.com junk",
    ],
    "To": ["<sip:bob@example.com>;tag=", "Bob <sip:bob@example.com", "Bob <sip:bob@example.com>;tag=a\x00"],
    "Contact": [
        "*",
        "*, <sip:a@b>",
        "<sip:a@b>;q=2",
        "<sip:a@b>;expires=-1",
        '<sip:a@b>;q="0.5"',
        "<sip:a@b>,",
        "<sip:a@b>, ,<sip:c@d>",
        "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>",
    ],
    "CSeq": ["4294967296 INVITE", "INVITE 1", "1INVITE", "\uff11 INVITE", "1 INV@TE"],
    "Call-ID": ["a@b@c", "@b", "a@", "call id", "ça@va"],
    "URI": ["sip:alice@example.com;", "sip:@example.com", "sip:example.com:99999", "tel:123", " sip:a@b"],
}


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in COMMON.items() for v in vs])
def test_common_shapes_take_the_c_path_and_build_the_python_parsers_objects(name, value, monkeypatch):
    expected = outcome(BY_NAME[name][1], value)
    assert expected[0] == "parsed"

    def python_parser_called(*args: object) -> None:
        raise AssertionError(f"the fast path sent {value!r} to the Python parser")

    for cls in (FrozenViaHeader, FrozenFromHeader, FrozenToHeader, FrozenContactHeader, FrozenCSeqHeader):
        monkeypatch.setattr(cls, "parse", classmethod(python_parser_called))
    for cls in (FrozenViaHeader, FrozenContactHeader):
        monkeypatch.setattr(cls, "parse_list", classmethod(python_parser_called))
    monkeypatch.setattr(FrozenCallIDHeader, "parse", classmethod(python_parser_called))
    monkeypatch.setattr(FrozenSIPURI, "parse", classmethod(python_parser_called))
    got = BY_NAME[name][0](value)
    assert structure(got) == structure(expected[1])


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in UNUSUAL.items() for v in vs])
def test_unusual_values_go_to_the_python_parser_and_get_its_result_or_error(name, value):
    assert_equivalent(name, value)
    if outcome(BY_NAME[name][1], value)[0] == "parsed":  # (an error can only come from Python)
        assert not _taken_by_c(name, value)


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in COMMON.items() for v in vs])
def test_common_values_are_equivalent_with_surrounding_whitespace(name, value):
    assert_equivalent(name, value)
    assert_equivalent(name, f" \t{value}\t ")


@pytest.mark.parametrize("value", [None, b"SIP/2.0/UDP h", 5060, QuotedString("<sip:a@b>")])
def test_values_that_are_not_plain_str_get_what_the_python_parser_does_with_them(value):
    for name, _, _ in PARSERS:
        assert_equivalent(name, value)


def test_parse_header_uses_the_fast_parsers_for_frozen_values_of_the_six_headers(monkeypatch):
    assert set(_fastparse.FAST_PARSERS) == {"Via", "From", "To", "Contact", "CSeq", "Call-ID"}
    assert headers._FAST_PARSERS is _fastparse.FAST_PARSERS
    calls: list[str] = []
    for name, parser in list(_fastparse.FAST_PARSERS.items()):
        monkeypatch.setitem(
            _fastparse.FAST_PARSERS, name, lambda value, _p=parser, _n=name: calls.append(_n) or _p(value)
        )
    for spelling in ("Via", "v", "VIA", "f", "To", "m", "CSEQ", "i"):
        parse_header(spelling, COMMON[headers.canonical_name(spelling)][0], frozen=True)
    parse_header("Via", COMMON["Via"][0])  # mutable: the Python parser
    assert calls == ["Via", "Via", "Via", "From", "To", "Contact", "CSeq", "Call-ID"]


@pytest.mark.parametrize(
    "imports",
    [
        "import sipsimple.core.sip._fastparse; import sipsimple.core.sip.headers as h",
        "import sipsimple.core.sip.headers as h; import sipsimple.core.sip._fastparse",
        "import sipsimple.core.sip.message; import sipsimple.core.sip.headers as h",
    ],
)
def test_the_fast_parsers_are_wired_in_whichever_module_is_imported_first(imports):
    code = f"{imports}; import sys; sys.exit(0 if len(h._FAST_PARSERS) == 6 else 1)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, check=False).returncode == 0


def test_parse_header_without_the_fast_parsers_gives_the_same_objects(monkeypatch):
    fast = {
        name: parse_header(name, values[0], frozen=True) for name, values in COMMON.items() if name != "URI"
    }
    monkeypatch.setattr(headers, "_FAST_PARSERS", {})
    slow = {
        name: parse_header(name, values[0], frozen=True) for name, values in COMMON.items() if name != "URI"
    }
    assert structure(fast) == structure(slow)


def test_empty_parameter_maps_are_one_shared_immutable_frozendict():
    first = _fastparse.parse_to("<sip:a@example.com>")
    second = _fastparse.parse_to("<sip:b@example.com>")
    assert first.parameters is second.parameters and first.uri.headers is second.uri.headers
    assert first.parameters == {} and hash(first.parameters) == hash(headers.FrozenDict())
    with pytest.raises(TypeError):
        first.parameters["x"] = "y"


def test_fast_objects_behave_like_python_ones_frozen_hashable_and_convertible():
    via = _fastparse.parse_via_list(COMMON["Via"][0])[0]
    with pytest.raises(AttributeError):
        via.host = "elsewhere"
    assert via.branch == "z9hG4bK776asdhds" and via.rport is True and via.port == 5060
    contact = _fastparse.parse_contact_list(COMMON["Contact"][1])
    assert contact[0].expires == 3600 and contact[1].q == 0.5
    assert ContactHeader.new(contact[0]) == contact[0]
    frm = _fastparse.parse_from(COMMON["From"][0])
    assert frm.tag == "1928301774" and {frm: 1}[FrozenFromHeader.parse(COMMON["From"][0])] == 1
    assert type(frm.uri) is FrozenSIPURI and frm.uri.transport == "udp"


# ---------------------------------------------------------------------------------------------
# Corpora


def corpus_messages() -> Iterator[tuple[str, Any]]:
    for folder in ("rfc4475", "rfc5118"):
        directory = CORPORA / folder
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.sip")):
            try:
                yield f"{folder}/{path.name}", scan(path.read_bytes())
            except SIPScanError:
                continue


needs_corpora = pytest.mark.skipif(not (CORPORA / "rfc4475").is_dir(), reason="RFC corpora not present")


@needs_corpora
def test_every_corpus_header_value_parses_the_same_through_all_seven_parsers():
    checked = 0
    for _, message in corpus_messages():
        for _, value in message.headers:
            assert_all_equivalent(value)
            checked += 1
        if message.request_uri is not None:
            assert_equivalent("URI", message.request_uri)
    assert checked > 400


@needs_corpora
def test_the_corpus_values_of_the_six_headers_mostly_take_the_c_path():
    """Not a correctness property, but it shows the fast path covers real traffic shapes."""
    taken = total = 0
    for _, message in corpus_messages():
        for name in ("Via", "From", "To", "Contact", "CSeq", "Call-ID"):
            for value in message.get_all(name):
                total += 1
                if outcome(BY_NAME[name][1], value)[0] == "parsed":
                    taken += _taken_by_c(name, value)
    assert total > 200 and taken / total > 0.6


def _taken_by_c(name: str, value: str) -> bool:
    classes: dict[str, type] = {
        "Via": FrozenViaHeader,
        "Contact": FrozenContactHeader,
        "From": FrozenFromHeader,
    }
    classes.update({"To": FrozenToHeader, "CSeq": FrozenCSeqHeader, "Call-ID": FrozenCallIDHeader})
    classes["URI"] = FrozenSIPURI
    cls = classes[name]
    attribute = "parse_list" if name in ("Via", "Contact") else "parse"
    original = getattr(cls, attribute)
    used: list[bool] = []

    def spy(klass: type, text: str) -> Any:
        used.append(True)
        return original(text)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cls, attribute, classmethod(spy))
        BY_NAME[name][0](value)
    return not used


# ---------------------------------------------------------------------------------------------
# Generated values: valid ones from the classes' own serialisation, mutations, garbage

_TOKEN_CHARS = string.ascii_letters + string.digits + "-.!%*_+`'~"
_TOKEN = st.text(_TOKEN_CHARS, min_size=1, max_size=8)
_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r\n"), max_size=8
)
# Mostly the plain shapes the C path takes, with a fair share of what it must hand to Python.
_LABEL = st.from_regex(r"[a-z0-9_]{1,6}(-{1,2}[a-z0-9_]{1,4})?", fullmatch=True)
_HOSTNAME = st.builds(
    lambda labels, dot: ".".join(labels) + dot,
    st.lists(_LABEL, min_size=1, max_size=4),
    st.sampled_from(["", "", "", "", "", "."]),
)
_IPV4 = st.builds(
    lambda parts: ".".join(map(str, parts)), st.lists(st.integers(0, 255), min_size=4, max_size=4)
)
_BAD_IPV4 = st.builds(
    lambda parts: ".".join(map(str, parts)), st.lists(st.integers(0, 300), min_size=3, max_size=5)
)
_IPV6 = st.sampled_from(["2001:db8::1", "::1", "fe80::1:2:3", "::ffff:192.0.2.1"])
_HOST = st.one_of(
    _HOSTNAME,
    _HOSTNAME,
    _HOSTNAME,
    _IPV4,
    _IPV4,
    _BAD_IPV4,
    _IPV6,
    st.sampled_from(["example.com", "a-b.c_d.e", "1.2.3.04", "a..b", "-a.b", "a-.b"]),
)
_PORT = st.none() | st.sampled_from([5060, 5061, 0, 65535]) | st.integers(0, 65535)
_SAFE = string.ascii_letters + string.digits + "-_.!~*'()"
_PLAIN = st.text(_SAFE, min_size=1, max_size=8)
_PARAM_VALUE = st.one_of(
    st.none(), _TOKEN, _TOKEN, _HOST, _TEXT, st.sampled_from(["udp", "tcp", "phone", "lr", "", "a b"])
)
_PARAMS = st.dictionaries(
    st.sampled_from(["tag", "branch", "lr", "transport", "x", "Tag"]) | _TOKEN, _PARAM_VALUE, max_size=3
)
_USER = st.one_of(
    st.none(),
    _PLAIN,
    _PLAIN,
    st.text(_SAFE + "&=+$,;?/", min_size=1, max_size=8),
    _TEXT,
    st.sampled_from(["alice", "+12125551212", "a;b=c", "a?b", "x,y"]),
)
_PASSWORD = st.one_of(st.none(), st.none(), st.sampled_from(["", "secret", "a&b=c"]), _TEXT)
_URI_PARAMS = st.dictionaries(
    st.sampled_from(["transport", "lr", "user", "maddr", "ob"]) | _PLAIN,
    st.one_of(st.none(), st.sampled_from(["udp", "tcp", "phone", "", "a[b]"]), _PLAIN, _TEXT),
    max_size=3,
)
_URI_HEADERS = st.dictionaries(_TOKEN, _TOKEN, max_size=1) | st.just({})


# Two thirds of the generated values use only the plain shapes (which the C path takes); the
# rest draw from everything, so escapes, IPv6, odd text and bad numbers are mixed in.
_PLAIN_HOST = st.one_of(
    st.lists(
        st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,3})?", fullmatch=True), min_size=1, max_size=4
    ).map(".".join),
    _IPV4,
)
_PLAIN_PARAMS = st.dictionaries(
    st.sampled_from(["tag", "branch", "lr", "x", "Tag"]) | _TOKEN,
    st.one_of(st.none(), _TOKEN, _PLAIN_HOST),
    max_size=3,
)
_PLAIN_URI_PARAMS = st.dictionaries(
    st.sampled_from(["transport", "lr", "user"]) | _PLAIN, st.none() | _PLAIN | st.just(""), max_size=2
)
_PLAIN_DISPLAY = st.one_of(
    st.none(),
    _TOKEN,
    st.sampled_from(["Alice", "Bob Smith"]),
    st.text(_SAFE + " <,;", max_size=8).map(QuotedString),
)
_DISPLAY = st.one_of(
    st.none(), st.none(), _TOKEN, _TEXT, st.sampled_from(["Alice", "Bob Smith", "A  B", "Ålice", 'a"b'])
)


@st.composite
def sip_uris(draw: st.DrawFn, plain: bool = False) -> SIPURI:
    if plain:
        user = draw(st.none() | _PLAIN)
        return SIPURI(
            draw(_PLAIN_HOST),
            user=user,
            password=draw(st.sampled_from([None, None, "secret"])) if user else None,
            port=draw(_PORT),
            secure=draw(st.booleans()),
            parameters=draw(_PLAIN_URI_PARAMS),
        )
    user = draw(_USER)
    return SIPURI(
        draw(_HOST),
        user=user,
        password=draw(_PASSWORD) if user else None,
        port=draw(_PORT),
        secure=draw(st.booleans()),
        parameters=draw(_URI_PARAMS),
        headers=draw(st.just({}) | st.just({}) | _URI_HEADERS),
    )


@st.composite
def address_bodies(draw: st.DrawFn, cls: type) -> str:
    plain = draw(st.integers(0, 2)) > 0
    uri = draw(sip_uris(plain))
    parameters = draw(_PLAIN_PARAMS if plain else _PARAMS)
    if cls is ContactHeader:
        extra = draw(
            st.dictionaries(
                st.sampled_from(["q", "expires", "Q", "EXPIRES"]),
                st.sampled_from(["0", "1", "0.5", "1.000", "3600"])
                if plain
                else st.none() | st.sampled_from(["0", "1", "0.5", "0.1234", "2", "3600", "4294967296"]),
                max_size=2,
            )
        )
        parameters.update(extra)
    body = cls(uri, draw(_PLAIN_DISPLAY if plain else _DISPLAY), parameters).body
    if draw(st.booleans()) and not uri.headers and not parameters:
        body = body.removeprefix(body.partition("<")[0]).strip("<>")  # addr-spec form
    return body


@st.composite
def via_bodies(draw: st.DrawFn) -> str:
    plain = draw(st.integers(0, 2)) > 0
    parameters = draw(_PLAIN_PARAMS if plain else _PARAMS)
    parameters.update(
        draw(
            st.dictionaries(
                st.sampled_from(
                    ["rport", "received", "maddr", "RPORT"] if plain else ["rport", "ttl", "maddr"]
                ),
                st.none() | st.sampled_from(["5060", "0", "255", "192.0.2.1"])
                if plain
                else st.none() | st.sampled_from(["5060", "65536", "256", "192.0.2.1", "x"]),
                max_size=2,
            )
        )
    )
    transport = draw(st.sampled_from(["UDP", "TCP", "TLS", "sctp", "WS"]) | _TOKEN)
    return ViaHeader(transport, draw(_PLAIN_HOST if plain else _HOST), draw(_PORT), parameters).body


def list_of(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    separators = st.sampled_from([", ", ",", " ,\t", ",  "])
    return st.builds(
        lambda items, sep: sep.join(items), st.lists(strategy, min_size=1, max_size=3), separators
    )


_INTERESTING = ' \t;,:<>"\\%@[]=?*/.-_x9Zé\x00'


@st.composite
def mutated(draw: st.DrawFn, strategy: st.SearchStrategy[str]) -> list[str]:
    """The value and seven mutations of it (inserted, replaced, deleted, case-flipped characters)."""
    value = draw(strategy)
    rng = random.Random(draw(st.integers(0, 2**32)))
    variants = [value]
    for _ in range(7):
        text = list(variants[-1] if rng.random() < 0.3 else value)
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(text))
            action = rng.random()
            char = rng.choice(_INTERESTING) if rng.random() < 0.7 else rng.choice(string.printable[:62])
            if action < 0.4 or not text:
                text.insert(at, char)
            elif action < 0.7:
                text[min(at, len(text) - 1)] = char
            elif action < 0.85:
                del text[min(at, len(text) - 1)]
            else:
                text[min(at, len(text) - 1)] = text[min(at, len(text) - 1)].swapcase()
        variants.append("".join(text))
    return variants


GENERATED = {
    "Via": list_of(via_bodies()),
    "From": address_bodies(FromHeader),
    "To": address_bodies(ToHeader),
    "Contact": list_of(address_bodies(ContactHeader)),
    "CSeq": st.builds(
        lambda number, method: CSeqHeader(number, method).body,
        st.integers(0, 2**32 + 5) | st.sampled_from([0, 1, 4294967295]),
        st.sampled_from(["INVITE", "ACK", "X"]) | _TOKEN,
    ),
    "Call-ID": st.builds(
        lambda word, host: CallIDHeader(word + (f"@{host}" if host else "")).body,
        st.text(string.ascii_letters + string.digits + "-.!%*_+`'~()<>:\\\"/[]?{}", min_size=1, max_size=12),
        st.none() | st.text(string.ascii_letters + string.digits + ".-", min_size=1, max_size=12),
    ),
    "URI": st.builds(str, sip_uris(plain=True) | sip_uris()),
}

_SETTINGS = settings(max_examples=350, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", list(GENERATED))
@_SETTINGS
@given(data=st.data())
def test_generated_values_and_their_mutations_parse_the_same_fast_and_slow(name, data):
    """7 kinds x 350 examples x (1 generated value + 7 mutations) = 19,600 cases."""
    for value in data.draw(mutated(GENERATED[name])):
        assert_equivalent(name, value)


@settings(max_examples=1200, deadline=None)
@given(st.text(st.sampled_from(_INTERESTING + "SIPsip/2.0UDPT<>abc1") | st.characters(), max_size=40))
def test_garbage_text_gives_the_same_result_from_every_fast_parser(value):
    """1,200 examples x 7 parsers = 8,400 cases."""
    assert_all_equivalent(value)


# ---------------------------------------------------------------------------------------------
# Verbatim serialisation


def verbatim_agrees(data: bytes) -> bool | None:
    """serialises_verbatim(...) == (to_bytes() gives the received bytes); None if it does not scan."""
    try:
        scanned = scan(data)
    except SIPScanError:
        return None
    used = len(scanned)
    claim = _fastparse.serialises_verbatim(data, used)
    assert claim == (parse_message(data).to_bytes() == data[:used]), data
    return claim


BENCH = CORPORA.parent / "bench" / "invite-806.sip"
OK_200 = (
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nTo: <sip:b@h>;tag=1\r\n"
    b"From: <sip:a@h>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
)


def test_canonical_messages_are_verbatim_and_every_deviation_is_not():
    assert verbatim_agrees(OK_200) is True
    if BENCH.exists():
        assert verbatim_agrees(BENCH.read_bytes()) is True
    deviations = [
        OK_200.replace(b"To: ", b"t: "),
        OK_200.replace(b"To: ", b"TO: "),
        OK_200.replace(b"To: ", b"To:"),
        OK_200.replace(b"To: ", b"To:  "),
        OK_200.replace(b"To: ", b"To : "),
        OK_200.replace(b";tag=1\r\n", b";tag=1 \r\n"),
        OK_200.replace(b";tag=1\r\n", b";tag=1\r\n continued\r\n"),
        OK_200.replace(b"\r\nCall-ID", b"\nCall-ID"),
        OK_200.replace(b"SIP/2.0 200 OK", b"sip/2.0 200 OK"),
        OK_200.replace(b"SIP/2.0 200 OK", b"SIP/2.0 200"),
        OK_200.replace(b"Content-Length: 0", b"Content-Length: 00"),
        OK_200.replace(b"Content-Length: 0\r\n", b""),
        OK_200.replace(b"CSeq: 1 INVITE\r\nContent-Length: 0", b"Content-Length: 0\r\nCSeq: 1 INVITE"),
        b"\r\n" + OK_200,
    ]
    for data in deviations:
        assert verbatim_agrees(data) is False, data
    assert verbatim_agrees(OK_200.replace(b"SIP/2.0 200 OK", b"SIP/2.0 200 ")) is True
    assert verbatim_agrees(OK_200.replace(b"Call-ID: c1", b"X-Empty: \r\nCall-ID: c1")) is True
    data = OK_200 + b"bytes after the body"  # ignored on a datagram: the message is data[:len]
    assert verbatim_agrees(data) is True and len(scan(data)) == len(OK_200)
    assert not _fastparse.serialises_verbatim(bytearray(OK_200), len(OK_200))
    assert not _fastparse.serialises_verbatim(OK_200, len(OK_200) + 1)


@needs_corpora
def test_verbatim_check_agrees_with_to_bytes_on_the_corpora_and_their_reserialisations():
    for folder in ("rfc4475", "rfc5118"):
        for path in sorted((CORPORA / folder).glob("*.sip")):
            data = path.read_bytes()
            if verbatim_agrees(data) is None:
                continue
            again = parse_message(data).to_bytes()
            assert verbatim_agrees(again) is True, path.name


_NAMES = st.sampled_from(
    ["Via", "v", "VIA", "To", "t", "Call-ID", "call-id", "X-Foo", "z", "Content-Length", "l"]
)
_SEPARATORS = st.sampled_from([": ", ": ", ":", " : ", ":  ", ":\t"])
_FIELD_VALUES = st.sampled_from(["a", "x y", "", " ", "a ", "v\r\n w", "é"]) | st.text("ab ;", max_size=4)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from([b"\r\n"] * 5 + [b"\n"]))
    body = draw(st.sampled_from([b"", b"v=0\r\n", b"xyz"]))
    start = draw(
        st.sampled_from(
            [
                b"INVITE sip:a@b SIP/2.0",
                b"INVITE sip:a@b sip/2.0",
                b"SIP/2.0 200 OK",
                b"SIP/2.0 200",
                b"SIP/2.0 404 ",
            ]
        )
    )
    lines = [start]
    for _ in range(draw(st.integers(0, 4))):
        lines.append((draw(_NAMES) + draw(_SEPARATORS) + draw(_FIELD_VALUES)).encode())
    length = draw(st.sampled_from([str(len(body)), "0" + str(len(body)), None]))
    if length is not None:
        cl = draw(st.sampled_from(["Content-Length: ", "l: ", "Content-Length:"])) + length
        lines.insert(draw(st.integers(1, len(lines))), cl.encode())
    data = eol.join(lines) + eol + eol + body
    return draw(st.sampled_from([b"", b"\r\n"])) + data + draw(st.sampled_from([b"", b"", b"junk"]))


@settings(max_examples=1500, deadline=None)
@given(messages())
def test_verbatim_check_agrees_with_to_bytes_on_generated_messages(data):
    """1,500 generated messages: True exactly when to_bytes() writes the received bytes."""
    if verbatim_agrees(data):
        assert parse_message(data).to_bytes() == data[: len(scan(data))]
