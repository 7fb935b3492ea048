"""Tests for sipsimple.core.sip.auth: digest authentication (RFC 2617, RFC 7616, RFC 3261 §22, RFC 8760).

Published examples are reproduced exactly with an injected client nonce; the parsers are tested on
whole values, odd spacing, trailing garbage and by fuzzing in which the only allowed failure is
AuthError; every algorithm and qop is answered by DigestClient and checked by DigestServer; the
retry policy is driven through the wrong-password, stale-nonce and proxy-plus-registrar cases.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsimple.core.sip import auth
from sipsimple.core.sip.auth import (
    RETRY_TRANSITIONS,
    SHA512_256_BACKEND,
    SUPPORTED_ALGORITHMS,
    AuthError,
    Challenge,
    DigestClient,
    DigestCredentials,
    DigestServer,
    RealmState,
    RetryEvent,
    RetryPolicy,
    Verdict,
    format_challenges,
    parse_challenges,
    parse_credentials,
    select_challenge,
    select_challenges,
)
from tests.conftest import corpora_directory

FUZZ = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def params_of(header_value: str) -> dict[str, str]:
    return dict(parse_credentials(header_value).params)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counter_source(prefix: str):
    numbers = itertools.count(1)
    return lambda: f"{prefix}{next(numbers)}"


def make_server(
    realm: str = "example.com", passwords: dict[str, str] | None = None, **options
) -> DigestServer:
    table = {"alice": "secret"} if passwords is None else passwords
    return DigestServer(
        realm, table.get, counter_source("nonce-"), options.pop("clock", FakeClock()), **options
    )


# --------------------------------------------------------------------------------------------
# Published examples

RFC2617_CHALLENGE = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_rfc2617_section_3_5_example_response_is_reproduced() -> None:
    """Mufasa / "Circle Of Life", qop=auth, cnonce 0a4f113b gives the RFC's response 6629fae4..."""
    client = DigestClient("Mufasa", "Circle Of Life", cnonce_source=lambda: "0a4f113b")
    header = client.authorize(parse_challenges(RFC2617_CHALLENGE)[0], "GET", "/dir/index.html")
    params = params_of(header)
    assert params["response"] == "6629fae49393a05397450978507c4ef1"
    assert params["qop"] == "auth"
    assert params["nc"] == "00000001"
    assert params["cnonce"] == "0a4f113b"
    assert params["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"
    assert params["uri"] == "/dir/index.html"


RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CHALLENGES = (
    f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
    f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}", '
    f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, '
    f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"'
)


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ],
)
def test_rfc7616_section_3_9_1_example_responses_are_reproduced(algorithm: str, expected: str) -> None:
    """Both challenges of the RFC 7616 example are answered with the responses the RFC prints."""
    challenges = parse_challenges(RFC7616_CHALLENGES)
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]
    challenge = next(c for c in challenges if c.algorithm == algorithm)
    client = DigestClient(
        "Mufasa", "Circle of Life", cnonce_source=lambda: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    )
    params = params_of(client.authorize(challenge, "GET", "/dir/index.html"))
    assert params["response"] == expected
    assert params["algorithm"] == algorithm
    assert (params["qop"], params["nc"]) == ("auth", "00000001")


def test_rfc7616_section_3_9_2_userhash_example_matches_the_corrected_values_of_erratum_4897() -> None:
    """SHA-512-256 with userhash and a non-ASCII name gives the erratum's user hash and response.

    The values printed in the RFC were computed with a draft SHA-512/256; erratum 4897 corrects them.
    """
    challenge = parse_challenges(
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
        'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
        'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true'
    )[0]
    client = DigestClient(
        "J\u00e4s\u00f8n Doe",
        "Secret, or not?",
        cnonce_source=lambda: "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
    )
    credentials = parse_credentials(client.authorize(challenge, "GET", "/doe.json"))
    assert credentials.username == "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
    assert credentials.userhash is True
    assert credentials.response == "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"


# --------------------------------------------------------------------------------------------
# SHA-512/256


def test_the_pure_python_sha512_256_matches_the_fips_180_4_abc_vector() -> None:
    """The fallback's digest of "abc" is the published SHA-512/256 test vector."""
    assert (
        auth._sha512_256_python(b"abc").hex()
        == "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
    )


def hashlib_has_sha512_256() -> bool:
    try:
        hashlib.new("sha512_256")
    except ValueError:
        return False
    return True


def test_the_reported_sha512_256_backend_is_the_one_this_build_can_use() -> None:
    """SHA512_256_BACKEND says hashlib exactly when this OpenSSL build offers sha512_256."""
    expected = "hashlib" if hashlib_has_sha512_256() else "python"
    assert expected == SHA512_256_BACKEND
    assert "SHA-512-256" in SUPPORTED_ALGORITHMS and "SHA-512-256-SESS" in SUPPORTED_ALGORITHMS


@pytest.mark.skipif(not hashlib_has_sha512_256(), reason="hashlib has no sha512_256 to compare with")
@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.sampled_from([b"x" * n for n in (110, 111, 112, 127, 128, 129, 240)]))
def test_the_pure_python_sha512_256_agrees_with_hashlib(data: bytes) -> None:
    """The fallback equals OpenSSL's SHA-512/256 on any input, including padding boundaries."""
    assert auth._sha512_256_python(data) == hashlib.new("sha512_256", data).digest()


def test_sha512_256_challenges_are_answered_with_the_python_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the fallback forced in, SHA-512-256 answers still verify (and equal the hashlib ones)."""
    server = make_server(algorithms=["SHA-512-256-sess"])
    challenge = parse_challenges(server.challenge())[0]
    expected = DigestClient("alice", "secret", cnonce_source=lambda: "c").authorize(
        challenge, "REGISTER", "sip:x"
    )
    monkeypatch.setattr(auth, "_sha512_256", auth._sha512_256_python)
    header = DigestClient("alice", "secret", cnonce_source=lambda: "c").authorize(
        challenge, "REGISTER", "sip:x"
    )
    assert header == expected
    assert server.verify(header, "REGISTER", "sip:x")


# --------------------------------------------------------------------------------------------
# Parsing challenges


def test_one_header_value_with_two_digest_challenges_is_split_at_the_scheme_boundary() -> None:
    """`Digest ..., Digest ...` gives two challenges, each with only its own parameters."""
    first, second = parse_challenges(
        'Digest realm="a", algorithm=SHA-256, nonce="n1", qop="auth", Digest realm="a", algorithm=MD5, nonce="n2"'
    )
    assert (first.realm, first.algorithm, first.nonce, first.qop) == ("a", "SHA-256", "n1", ("auth",))
    assert (second.realm, second.algorithm, second.nonce, second.qop) == ("a", "MD5", "n2", ())


def test_the_rfc7235_example_with_an_unknown_scheme_before_basic_is_split_correctly() -> None:
    """RFC 7235 §4.1: Newauth's parameters (one a quoted string with escaped quotes) stay with it."""
    newauth, basic = parse_challenges(
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"'
    )
    assert newauth.scheme == "newauth"
    assert dict(newauth.params) == {"realm": "apps", "type": "1", "title": 'Login to "apps"'}
    assert (basic.scheme, basic.realm, dict(basic.params)) == ("basic", "simple", {"realm": "simple"})


def test_quoted_strings_keep_commas_equals_signs_and_escaped_characters() -> None:
    """Commas, '=' and 'Digest' inside quotes do not split; backslash escapes are removed."""
    (challenge,) = parse_challenges(
        r'Digest realm="a, b=c, Digest d", nonce="x\"y\\z", opaque="\q", domain="sip:a sip:b"'
    )
    assert challenge.realm == "a, b=c, Digest d"
    assert challenge.nonce == 'x"y\\z'
    assert challenge.opaque == "q"
    assert challenge.domain == ("sip:a", "sip:b")


def test_scheme_parameter_names_and_keyword_values_are_case_insensitive() -> None:
    """DIGEST/Realm/NONCE/Stale=TRUE/algorithm=sha-256-SESS/qop=" Auth-Int , auth" are all understood."""
    (challenge,) = parse_challenges(
        'DIGEST Realm="r", NONCE="n", Stale=TRUE, Algorithm=sha-256-SESS, QOP=" Auth-Int , auth", UserHash=True'
    )
    assert challenge.scheme == "digest"
    assert (challenge.realm, challenge.nonce) == ("r", "n")
    assert challenge.stale is True and challenge.userhash is True
    assert challenge.algorithm == "SHA-256-SESS"
    assert challenge.qop == ("auth-int", "auth")
    assert challenge.params["algorithm"] == "sha-256-SESS"


def test_odd_whitespace_and_empty_list_elements_are_tolerated() -> None:
    """Tabs, folded lines, space around '=', leading/trailing and doubled commas parse as usual."""
    (challenge,) = parse_challenges(
        ' ,Digest \t realm =\t"r" ,\r\n  nonce= "n",, qop=auth ,\talgorithm = MD5-sess , '
    )
    assert (challenge.realm, challenge.nonce, challenge.qop, challenge.algorithm) == (
        "r",
        "n",
        ("auth",),
        "MD5-SESS",
    )


def test_a_challenge_without_algorithm_defaults_to_md5_and_keeps_absent_fields_empty() -> None:
    """No algorithm means MD5; no opaque/qop/stale/domain/userhash gives None/()/False."""
    (challenge,) = parse_challenges('Digest realm="r", nonce="n"')
    assert challenge == Challenge("digest", realm="r", nonce="n")
    assert challenge.opaque is None and challenge.qop == () and challenge.stale is False


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        ('Digest nonce="n", qop="auth"', "realm"),
        ('Digest realm="r", qop="auth"', "nonce"),
        ("Digest", "realm"),
    ],
)
def test_a_digest_challenge_without_realm_or_nonce_raises_auth_error_naming_it(
    value: str, missing: str
) -> None:
    """realm and nonce are required in Digest challenges."""
    with pytest.raises(AuthError, match=missing):
        parse_challenges(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        'Digest realm="r, nonce="n"',  # unterminated quoted string
        'Digest realm="r" nonce="n"',  # missing comma
        'realm="r", Digest nonce="n"',  # parameter before any scheme
        'Digest realm="r", realm="s", nonce="n"',  # duplicate parameter
        'Digest realm="r", nonce="n" garbage',  # trailing garbage
        'Digest realm="r", nonce="n"garbage',
        'Digest realm=, nonce="n"',  # empty value
        'Digest realm="r", nonce="n", =x',
        "Digest abc==",  # token68 in Digest
        'Digest"r"',
        'Digest realm="a\x01b", nonce="n"',  # control character
        'Digest realm="r", nonce="n\\',
        'Digest Basic realm="r", nonce="n"',  # two schemes without a comma between them
        "Basic abc=, realm=x",
    ],
)
def test_malformed_challenges_raise_auth_error(value: str) -> None:
    """Every malformed value fails with AuthError and nothing else."""
    with pytest.raises(AuthError):
        parse_challenges(value)


def test_other_schemes_with_a_token68_or_nothing_parse_and_round_trip() -> None:
    """`Basic abc==, Negotiate, Bearer realm="x"` are three non-Digest challenges, serialised back alike."""
    value = 'Basic dXNlcjpwYXNz==, Negotiate, Bearer realm="x"'
    challenges = parse_challenges(value)
    assert [(c.scheme, c.token68) for c in challenges] == [
        ("basic", "dXNlcjpwYXNz=="),
        ("negotiate", None),
        ("bearer", None),
    ]
    assert format_challenges(challenges).lower() == value.lower()


@pytest.mark.parametrize(
    "value",
    [
        'Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=MD5, qop="auth,auth-int"',
        'Digest realm="a", domain="sip:a sip:b", nonce="n\\"q", stale=true, algorithm=SHA-512-256-sess, '
        'qop="auth-int", userhash=true, charset=UTF-8, x="y"',
    ],
)
def test_canonical_challenges_serialise_back_to_the_same_text(value: str) -> None:
    """serialize(parse(x)) == x for challenges in canonical form."""
    assert format_challenges(parse_challenges(value)) == value


TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20)
TOKEN = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~", min_size=1, max_size=12
)


@settings(max_examples=300, deadline=None)
@given(
    realm=TEXT,
    nonce=TEXT,
    opaque=st.none() | TEXT,
    algorithm=st.sampled_from(SUPPORTED_ALGORITHMS) | TOKEN,
    qop=st.lists(st.sampled_from(["auth", "auth-int", "auth-conf"]), max_size=3, unique=True),
    stale=st.booleans(),
    domain=st.lists(TOKEN, max_size=3),
    userhash=st.booleans(),
)
def test_any_challenge_survives_serialise_then_parse(
    realm: str,
    nonce: str,
    opaque: str | None,
    algorithm: str,
    qop: list[str],
    stale: bool,
    domain: list[str],
    userhash: bool,
) -> None:
    """parse(c.serialize()) == c for every Digest challenge, whatever its strings contain."""
    challenge = Challenge(
        "Digest",
        realm=realm,
        nonce=nonce,
        opaque=opaque,
        algorithm=algorithm,
        qop=tuple(qop),
        stale=stale,
        domain=tuple(domain),
        userhash=userhash,
    )
    assert parse_challenges(challenge.serialize()) == [challenge]
    assert str(challenge) == challenge.serialize()


def quote(value: str) -> str:
    return '"' + "".join("\\" + ch if ch in '"\\' else ch for ch in value) + '"'


SPACE = st.sampled_from(["", " ", "\t", "  ", "\r\n "])
SEPARATOR = st.sampled_from([" ", "\t", "  ", "\r\n "])


@st.composite
def written_challenges(draw: st.DrawFn) -> tuple[str, list[tuple[str, dict[str, str]]]]:
    """Non-Digest challenges written out with random spacing and quoting, and what they should parse to."""
    expected: list[tuple[str, dict[str, str]]] = []
    written: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        scheme = draw(TOKEN.filter(lambda s: s.lower() != "digest"))
        names = draw(st.lists(TOKEN, max_size=4, unique_by=str.lower))
        params: dict[str, str] = {}
        rendered: list[str] = []
        for name in names:
            value = draw(TOKEN | TEXT)
            as_token = all(ch in auth._TCHAR for ch in value) and value and draw(st.booleans())
            params[name.lower()] = value
            rendered.append(f"{name}{draw(SPACE)}={draw(SPACE)}{value if as_token else quote(value)}")
        expected.append((scheme.lower(), params))
        separator = draw(SPACE) + "," + draw(SPACE)
        written.append(scheme + (draw(SEPARATOR) + separator.join(rendered) if rendered else ""))
    return (draw(SPACE) + "," + draw(SPACE)).join(written), expected


@settings(max_examples=500, deadline=None)
@given(written_challenges())
def test_written_challenges_split_into_the_schemes_and_parameters_they_were_made_from(
    case: tuple[str, list[tuple[str, dict[str, str]]]],
) -> None:
    """Any list of challenges, however spaced and quoted, parses back to its schemes and parameters."""
    value, expected = case
    assert [(c.scheme, dict(c.params)) for c in parse_challenges(value)] == expected


# --------------------------------------------------------------------------------------------
# Parsing credentials


def test_credentials_are_parsed_into_fields_and_serialised_back_unchanged() -> None:
    """An Authorization value in canonical order round-trips and exposes every field."""
    value = (
        'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
        'uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=0000000a'
    )
    credentials = parse_credentials(value)
    assert (credentials.username, credentials.uri, credentials.qop) == ("Mufasa", "/dir/index.html", "auth")
    assert (credentials.nc, credentials.nonce_count) == ("0000000a", 10)
    assert credentials.serialize() == value


def test_username_star_is_decoded_from_its_rfc8187_form() -> None:
    """username*=UTF-8''J%C3%A4s%C3%B8n%20Doe (RFC 7616 §3.9.2) decodes to the user name."""
    credentials = parse_credentials(
        'Digest username*=UTF-8\'\'J%C3%A4s%C3%B8n%20Doe, realm="r", nonce="n", uri="/", response="x"'
    )
    assert credentials.username == "J\u00e4s\u00f8n Doe"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('Digest realm="r", nonce="n", uri="/", response="x"', "username"),
        ('Digest username="u", nonce="n", uri="/", response="x"', "realm"),
        ('Digest username="u", realm="r", uri="/", response="x"', "nonce"),
        ('Digest username="u", realm="r", nonce="n", uri="/"', "response"),
        ('Digest username="u", realm="r", nonce="n", response="x", qop=auth, cnonce="c"', "nc"),
        ('Digest username="u", realm="r", nonce="n", response="x", qop=auth, nc=1, cnonce="c"', "8 hex"),
        ('Digest username="u", username*=UTF-8\'\'u, realm="r", nonce="n", response="x"', "both"),
        ('Digest username*=KOI8-R\'\'u, realm="r", nonce="n", response="x"', "charset"),
        ('Digest username*=UTF-8\'\'%FF, realm="r", nonce="n", response="x"', "UTF-8"),
        ('Digest username*=u, realm="r", nonce="n", response="x"', "RFC 8187"),
        ("Basic dXNlcjpwYXNz", "not Digest"),
        ("Digest dXNlcjpwYXNz==", "token68"),
        ('Digest username="u", realm="r", nonce="n", response="x", Digest username="v"', "one credentials"),
    ],
)
def test_invalid_credentials_raise_auth_error_saying_why(value: str, reason: str) -> None:
    """Missing fields, bad nc, bad username* and other schemes are refused with a reason."""
    with pytest.raises(AuthError, match=reason):
        parse_credentials(value)


def test_the_credentials_repr_does_not_show_the_response() -> None:
    """repr(DigestCredentials) leaves out the response hash."""
    credentials = parse_credentials('Digest username="u", realm="r", nonce="n", response="feedface"')
    assert "feedface" not in repr(credentials)
    assert "username='u'" in repr(credentials)


CORPORA = corpora_directory()


def corpus_header_values(folder: str, header: str) -> list[tuple[str, str]]:
    directory = CORPORA / folder
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        if path.suffix in (".msrp", ".sip"):
            for line in path.read_bytes().decode("utf-8", "replace").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == header.lower():
                    found.append((path.name, value.strip()))
    return found


@pytest.mark.skipif(not (CORPORA / "msrp").is_dir(), reason="shared corpora not present")
def test_the_rfc4976_msrp_relay_auth_examples_parse() -> None:
    """Every WWW-Authenticate and Authorization value in the RFC 4976 MSRP corpus parses as Digest."""
    challenges = corpus_header_values("msrp", "WWW-Authenticate")
    credentials = corpus_header_values("msrp", "Authorization")
    assert challenges and credentials
    for _, value in challenges:
        (challenge,) = parse_challenges(value)
        assert challenge.qop == ("auth",) and select_challenge([challenge]) == challenge
    for _, value in credentials:
        parsed = parse_credentials(value)
        assert parsed.username == "Alice" and parsed.uri is None and parsed.nc == "00000001"


@pytest.mark.skipif(not (CORPORA / "rfc4475").is_dir(), reason="shared corpora not present")
def test_the_rfc4475_unknown_scheme_authorization_is_refused_by_the_digest_parser() -> None:
    """regaut01's `NoOneKnowsThisScheme opaque-data=here` is valid syntax but not Digest credentials."""
    values = dict(corpus_header_values("rfc4475", "Authorization"))
    value = values["regaut01.sip"]
    with pytest.raises(AuthError, match="not Digest"):
        parse_credentials(value)
    (challenge,) = parse_challenges(value)
    assert challenge.scheme == "nooneknowsthisscheme" and select_challenge([challenge]) is None


# --------------------------------------------------------------------------------------------
# Choosing a challenge


def digest(algorithm: str, realm: str = "r", **fields) -> Challenge:
    return Challenge(
        "digest", realm=realm, nonce=f"n-{algorithm}", algorithm=algorithm, qop=("auth",), **fields
    )


@pytest.mark.parametrize("order", list(itertools.permutations(["MD5", "SHA-256", "SHA-512-256"])))
def test_select_challenge_prefers_sha512_256_then_sha256_then_md5_in_any_order(
    order: tuple[str, ...],
) -> None:
    """The strongest offered algorithm wins whatever order the server lists them in."""
    assert select_challenge([digest(a) for a in order]) == digest("SHA-512-256")
    assert select_challenge([digest(a) for a in order if a != "SHA-512-256"]) == digest("SHA-256")


def test_select_challenge_skips_unknown_algorithms_other_schemes_and_unsupported_qop() -> None:
    """SHA-1, Basic, qop=auth-conf only and MD5-sess without qop are never chosen."""
    unusable = [
        digest("SHA-1"),
        digest("SHA3-256"),
        Challenge("basic", realm="r"),
        Challenge("digest", realm="r", nonce="n", algorithm="SHA-256", qop=("auth-conf",)),
        Challenge("digest", realm="r", nonce="n", algorithm="MD5-sess"),
    ]
    assert select_challenge(unusable) is None
    assert select_challenge([*unusable, digest("MD5")]) == digest("MD5")
    assert select_challenges(unusable) == []
    assert select_challenge([digest("MD5", "first"), digest("MD5", "second")]) == digest("MD5", "first")


def test_parsed_unknown_algorithm_is_kept_but_not_selected() -> None:
    """An unknown algorithm parses (upper-cased) and select_challenge passes over it."""
    challenges = parse_challenges('Digest realm="r", nonce="a", algorithm=sha-1, Digest realm="r", nonce="b"')
    assert challenges[0].algorithm == "SHA-1"
    assert select_challenge(challenges) == challenges[1]


def test_select_challenges_gives_the_strongest_challenge_of_each_realm() -> None:
    """Two realms in one response (e.g. two proxies after forking) are both answered once."""
    chosen = select_challenges(
        [digest("MD5", "a"), digest("MD5", "b"), digest("SHA-256", "a"), digest("SHA-512-256-sess", "b")]
    )
    assert chosen == [digest("SHA-256", "a"), digest("SHA-512-256-sess", "b")]


# --------------------------------------------------------------------------------------------
# DigestClient


def test_auth_is_preferred_when_both_auth_and_auth_int_are_offered() -> None:
    """qop="auth-int,auth" is answered with qop=auth."""
    challenge = Challenge("digest", realm="r", nonce="n", qop=("auth-int", "auth"))
    assert params_of(DigestClient("u", "p").authorize(challenge, "INVITE", "sip:b@r"))["qop"] == "auth"


def test_auth_int_alone_is_used_and_binds_the_body() -> None:
    """With only auth-int offered the answer covers the body: another body fails verification."""
    server = make_server(qop=["auth-int"])
    challenge = parse_challenges(server.challenge())[0]
    client = DigestClient("alice", "secret")
    header = client.authorize(challenge, "MESSAGE", "sip:bob@example.com", b"hello")
    assert params_of(header)["qop"] == "auth-int"
    assert not server.verify(header, "MESSAGE", "sip:bob@example.com", b"hellO")
    assert server.verify(header, "MESSAGE", "sip:bob@example.com", b"hello")


def test_without_qop_the_answer_is_rfc2069_style_without_cnonce_or_nc() -> None:
    """A qop-less challenge gets neither cnonce, nc nor qop, and the client never asks for a cnonce."""

    def no_cnonce() -> str:
        raise AssertionError("cnonce requested")

    header = DigestClient("u", "p", cnonce_source=no_cnonce).authorize(
        Challenge("digest", realm="r", nonce="n"), "REGISTER", "sip:r"
    )
    assert not {"cnonce", "nc", "qop"} & set(params_of(header))


def test_reusing_a_nonce_increments_nc_and_keeps_the_cnonce() -> None:
    """Answering the same (realm, nonce) again sends nc=00000002 with the same cnonce; a new nonce starts over."""
    client = DigestClient("alice", "secret", cnonce_source=counter_source("c"))
    challenge = digest("MD5")
    first, second = (params_of(client.authorize(challenge, "REGISTER", "sip:r")) for _ in range(2))
    assert (first["nc"], second["nc"]) == ("00000001", "00000002")
    assert first["cnonce"] == second["cnonce"] == "c1"
    assert client.nonce_count(challenge) == 2
    other = params_of(client.authorize(digest("SHA-256"), "REGISTER", "sip:r"))
    assert (other["nc"], other["cnonce"]) == ("00000001", "c2")


def test_nonce_reuse_is_accepted_by_the_server_and_each_count_only_once() -> None:
    """Pre-emptive answers to one challenge verify with nc 1, 2, 3; replaying one is refused."""
    server = make_server()
    challenge = select_challenge(parse_challenges(server.challenge()))
    assert challenge is not None
    client = DigestClient("alice", "secret")
    headers = [client.authorize(challenge, "OPTIONS", "sip:example.com") for _ in range(3)]
    assert [server.check(h, "OPTIONS", "sip:example.com") for h in headers] == [Verdict.ACCEPTED] * 3
    assert server.check(headers[1], "OPTIONS", "sip:example.com") is Verdict.REJECTED


def test_the_client_keeps_state_for_a_bounded_number_of_nonces() -> None:
    """Beyond max_nonces the least recently used nonce is forgotten (its count starts again)."""
    client = DigestClient("u", "p", max_nonces=2)
    a, b, c = (Challenge("digest", realm="r", nonce=n, qop=("auth",)) for n in "abc")
    for challenge in (a, b, a, c):
        client.authorize(challenge, "REGISTER", "sip:r")
    assert (client.nonce_count(a), client.nonce_count(b), client.nonce_count(c)) == (2, 0, 1)


def test_realm_star_answers_any_realm_and_a_named_realm_only_itself() -> None:
    """Credentials with realm '*' answer every realm; realm='a' refuses realm b with AuthError."""
    assert DigestClient("u", "p").can_answer(digest("MD5", "anything"))
    scoped = DigestClient("u", "p", realm="a")
    assert scoped.can_answer(digest("MD5", "a"))
    assert not scoped.can_answer(digest("MD5", "b"))
    with pytest.raises(AuthError, match="realm 'b'"):
        scoped.authorize(digest("MD5", "b"), "REGISTER", "sip:b")


@pytest.mark.parametrize(
    ("challenge", "reason"),
    [
        (Challenge("basic", realm="r"), "not Digest"),
        (digest("SHA-1"), "not supported"),
        (Challenge("digest", realm="r", nonce="n", qop=("auth-conf",)), "qop"),
        (Challenge("digest", realm="r", nonce="n", algorithm="SHA-256-sess"), "needs a qop"),
    ],
)
def test_unanswerable_challenges_raise_auth_error_saying_why(challenge: Challenge, reason: str) -> None:
    """authorize refuses what it cannot answer, and can_answer agrees."""
    client = DigestClient("u", "p")
    assert not client.can_answer(challenge)
    with pytest.raises(AuthError, match=reason):
        client.authorize(challenge, "REGISTER", "sip:r")


def test_the_password_never_appears_in_the_client_repr() -> None:
    """repr(DigestClient) shows the user and realm only."""
    client = DigestClient("alice", "hunter2-secret", realm="example.com")
    assert "hunter2" not in repr(client) and "hunter2" not in str(client)
    assert repr(client) == "DigestClient(username='alice', realm='example.com')"


def test_a_precomputed_ha1_answers_exactly_as_the_password_would() -> None:
    """HA1 = MD5(user:realm:password) gives the same header; other algorithm families are refused."""
    ha1 = hashlib.md5(b"alice:r:secret").hexdigest()
    with_ha1 = DigestClient("alice", realm="r", ha1=ha1.upper(), cnonce_source=lambda: "c")
    with_password = DigestClient("alice", "secret", cnonce_source=lambda: "c")
    for algorithm in ("MD5", "MD5-sess"):
        challenge = digest(algorithm)
        assert with_ha1.authorize(challenge, "INVITE", "sip:b@r") == with_password.authorize(
            challenge, "INVITE", "sip:b@r"
        )
    assert not with_ha1.can_answer(digest("SHA-256"))
    sha = DigestClient(
        "alice", realm="r", ha1=hashlib.sha256(b"alice:r:secret").hexdigest(), ha1_algorithm="sha-256"
    )
    assert sha.can_answer(digest("SHA-256-sess")) and not sha.can_answer(digest("MD5"))


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"username": "u"}, "password or an HA1"),
        ({"username": "u", "password": "p", "ha1": "0" * 32, "realm": "r"}, "not both"),
        ({"username": "u", "ha1": "0" * 32}, "give the realm"),
        ({"username": "u", "ha1": "0" * 31, "realm": "r"}, "hex digest"),
        ({"username": "u", "ha1": "0" * 32, "realm": "r", "ha1_algorithm": "MD5-sess"}, "ha1_algorithm"),
        ({"username": "bad\r\nname", "password": "p"}, "control character"),
        ({"username": "u", "password": "\ud800"}, "UTF-8"),
    ],
)
def test_bad_client_configuration_raises_auth_error(kwargs: dict, reason: str) -> None:
    """Misconfigured credentials fail at construction with a reason."""
    with pytest.raises(AuthError, match=reason):
        DigestClient(**kwargs)


@pytest.mark.parametrize(("method", "uri"), [("", "sip:r"), ("IN VITE", "sip:r"), ("INVITE", "sip:r\n")])
def test_a_bad_method_or_uri_raises_auth_error(method: str, uri: str) -> None:
    """The method must be a token and the URI free of control characters."""
    with pytest.raises(AuthError):
        DigestClient("u", "p").authorize(digest("MD5"), method, uri)


def test_a_non_ascii_username_is_sent_as_utf8_in_the_quoted_string_and_verifies() -> None:
    """'Jäsøn "J" \\ Doe' goes out escaped in username="...", never as username*, and the server accepts it."""
    name = 'J\u00e4s\u00f8n "J" \\ Doe'
    server = make_server(passwords={name: "pa:ss"})
    challenge = select_challenge(parse_challenges(server.challenge()))
    assert challenge is not None
    header = DigestClient(name, "pa:ss").authorize(challenge, "REGISTER", "sip:example.com")
    assert 'username="J\u00e4s\u00f8n \\"J\\" \\\\ Doe"' in header and "username*" not in header
    assert server.verify(header, "REGISTER", "sip:example.com")


def test_userhash_hides_the_username_and_the_server_resolves_it() -> None:
    """With usernames configured the server offers userhash=true; the client sends H(user:realm)."""
    server = make_server(passwords={"alice": "secret", "bob": "other"}, usernames=["bob", "alice"])
    challenge = select_challenge(parse_challenges(server.challenge()))
    assert challenge is not None and challenge.userhash
    header = DigestClient("alice", "secret").authorize(challenge, "REGISTER", "sip:example.com")
    assert "alice" not in header and params_of(header)["userhash"] == "true"
    assert str(parse_credentials(header)) == header
    stranger = DigestClient("carol", "secret").authorize(challenge, "REGISTER", "sip:example.com")
    assert server.check(stranger, "REGISTER", "sip:example.com") is Verdict.REJECTED
    assert server.verify(header, "REGISTER", "sip:example.com")
    plain_server = make_server()
    plain_server.challenge()
    assert not plain_server.verify(header.replace(challenge.nonce, "nonce-1"), "REGISTER", "sip:example.com")


# --------------------------------------------------------------------------------------------
# Round trips: DigestClient answers, DigestServer checks


ALGORITHM_QOP = [
    (algorithm, qop)
    for algorithm in SUPPORTED_ALGORITHMS
    for qop in ("auth", "auth-int", None)
    if not (qop is None and algorithm.endswith("-SESS"))
]


@pytest.mark.parametrize(("algorithm", "qop"), ALGORITHM_QOP)
def test_every_algorithm_and_qop_round_trips_and_a_wrong_password_fails(
    algorithm: str, qop: str | None
) -> None:
    """The server accepts the client's answer for each algorithm and qop, and refuses a wrong password."""
    server = make_server(algorithms=[algorithm], qop=[qop] if qop else [])
    challenge = select_challenge(parse_challenges(server.challenge()))
    assert challenge is not None and challenge.algorithm == algorithm
    good = DigestClient("alice", "secret").authorize(challenge, "INVITE", "sip:bob@example.com", b"v=0\r\n")
    bad = DigestClient("alice", "Secret").authorize(challenge, "INVITE", "sip:bob@example.com", b"v=0\r\n")
    assert params_of(good).get("qop") == qop
    assert server.check(bad, "INVITE", "sip:bob@example.com", b"v=0\r\n") is Verdict.REJECTED
    assert server.check(good, "INVITE", "sip:bob@example.com", b"v=0\r\n") is Verdict.ACCEPTED


def test_the_sess_variants_without_qop_cannot_be_configured_on_the_server() -> None:
    """-sess needs a cnonce, which only qop carries, so the server refuses that combination."""
    with pytest.raises(AuthError, match="-sess"):
        make_server(algorithms=["MD5-sess"], qop=[])


@settings(max_examples=150, deadline=None)
@given(
    username=st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=16),
    password=st.text(st.characters(exclude_categories=("Cs",)), max_size=16),
    uri=st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=30),
    method=TOKEN,
    body=st.binary(max_size=64),
    algorithm=st.sampled_from(SUPPORTED_ALGORITHMS),
    qop=st.sampled_from(["auth", "auth-int"]),
)
def test_any_credentials_and_request_round_trip(
    username: str, password: str, uri: str, method: str, body: bytes, algorithm: str, qop: str
) -> None:
    """Whatever the user name, password, URI, method and body, the right answer verifies and a changed request does not."""
    server = make_server(passwords={username: password}, algorithms=[algorithm], qop=[qop])
    challenge = parse_challenges(server.challenge())[0]
    header = DigestClient(username, password).authorize(challenge, method, uri, body)
    assert parse_credentials(header).username == username
    assert not server.verify(header, method + "X", uri, body)
    assert server.verify(header, method, uri, body)


# --------------------------------------------------------------------------------------------
# DigestServer


def test_an_expired_nonce_is_reported_stale_and_a_stale_challenge_says_so() -> None:
    """After nonce_lifetime seconds a correct answer gets STALE, and challenge(stale=True) carries stale=true."""
    clock = FakeClock()
    server = make_server(clock=clock, nonce_lifetime=30)
    header = DigestClient("alice", "secret").authorize(
        parse_challenges(server.challenge())[0], "REGISTER", "sip:e"
    )
    clock.now += 31
    assert server.check(header, "REGISTER", "sip:e") is Verdict.STALE
    assert not server.verify(header, "REGISTER", "sip:e")
    assert all(c.stale for c in parse_challenges(server.challenge(stale=True)))


def test_an_unknown_nonce_with_a_correct_response_is_stale_and_with_a_wrong_one_rejected() -> None:
    """A nonce the server never issued (e.g. after a restart) is STALE only if the password was right."""
    server = make_server()
    challenge = Challenge(
        "digest", realm="example.com", nonce="forgotten", algorithm="SHA-256", qop=("auth",)
    )
    assert (
        server.check(
            DigestClient("alice", "secret").authorize(challenge, "REGISTER", "sip:e"), "REGISTER", "sip:e"
        )
        is Verdict.STALE
    )
    assert (
        server.check(
            DigestClient("alice", "wrong").authorize(challenge, "REGISTER", "sip:e"), "REGISTER", "sip:e"
        )
        is Verdict.REJECTED
    )


def test_the_server_challenge_offers_each_configured_algorithm_with_one_nonce() -> None:
    """challenge() lists the algorithms in order, with the server's realm, qop and opaque."""
    server = make_server(algorithms=["SHA-512-256", "MD5"], opaque="op")
    challenges = parse_challenges(server.challenge())
    assert [c.algorithm for c in challenges] == ["SHA-512-256", "MD5"]
    assert {(c.realm, c.nonce, c.qop, c.opaque) for c in challenges} == {
        ("example.com", "nonce-1", ("auth", "auth-int"), "op")
    }


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h: h.replace('realm="example.com"', 'realm="other"'),
        lambda h: h.replace('uri="sip:example.com"', 'uri="sip:other"'),
        lambda h: re.sub(r', (?:qop|nc|cnonce)=(?:"[^"]*"|[^,]*)', "", h),
        lambda h: h.replace("algorithm=SHA-256", "algorithm=SHA-512-256"),
        lambda h: h.replace('username="alice"', 'username="mallory"'),
        lambda h: h.replace("nc=00000001", "nc=00000002"),
        lambda h: h + ', opaque="x"',
        lambda h: h.replace("Digest", "Digest userhash=true,"),
        lambda h: "garbage",
    ],
)
def test_tampered_credentials_are_rejected(tamper) -> None:
    """Another realm, URI, missing qop, unoffered algorithm, unknown user, changed nc, opaque or userhash all fail."""
    server = make_server(algorithms=["SHA-256"])
    header = DigestClient("alice", "secret").authorize(
        parse_challenges(server.challenge())[0], "REGISTER", "sip:example.com"
    )
    changed = tamper(header)
    assert changed != header
    assert server.check(changed, "REGISTER", "sip:example.com") is Verdict.REJECTED
    assert server.check(header, "REGISTER", "sip:example.com") is Verdict.ACCEPTED


def test_the_server_refuses_unsupported_configuration() -> None:
    """Unknown algorithms and qop values are configuration errors; the repr shows no passwords."""
    assert repr(make_server()) == "DigestServer(realm='example.com', algorithms=('SHA-256', 'MD5'))"
    with pytest.raises(AuthError, match="SHA-1"):
        make_server(algorithms=["SHA-1"])
    with pytest.raises(AuthError, match="qop"):
        make_server(qop=["auth-conf"])


# --------------------------------------------------------------------------------------------
# Retry policy


class Exchange:
    """A request sent through an optional proxy to a registrar, both checking digest credentials."""

    def __init__(self, proxy: DigestServer | None, registrar: DigestServer) -> None:
        self.proxy = proxy
        self.registrar = registrar
        self.stale_next: set[str] = set()

    def send(self, headers: dict[str, str]) -> tuple[int, str | None]:
        for status, name, server in (
            (407, "Proxy-Authorization", self.proxy),
            (401, "Authorization", self.registrar),
        ):
            if server is None:
                continue
            value = headers.get(name)
            verdict = server.check(value, "REGISTER", "sip:example.com") if value else Verdict.REJECTED
            if verdict is not Verdict.ACCEPTED:
                return status, server.challenge(stale=verdict is Verdict.STALE)
        return 200, None


def run_request(exchange: Exchange, client: DigestClient, policy: RetryPolicy, headers=None, limit: int = 10):
    """Drive one logical request the way the request layer will; returns (final status, sends).

    Every challenge answered so far is answered again on each send (so its nc goes up).
    """
    headers = dict(headers or {})
    answered: dict[str, Challenge] = {}
    for sends in range(1, limit + 1):
        for name, challenge in answered.items():
            headers[name] = client.authorize(challenge, "REGISTER", "sip:example.com")
        status, value = exchange.send(headers)
        if status == 200:
            return status, sends
        assert value is not None
        proxy = status == 407
        for challenge in select_challenges(parse_challenges(value)):
            if not (client.can_answer(challenge) and policy.should_retry(challenge, proxy=proxy)):
                return status, sends
            answered["Proxy-Authorization" if proxy else "Authorization"] = challenge
    raise AssertionError("retry storm")


def test_a_wrong_password_gets_one_answer_and_then_the_request_stops() -> None:
    """401, answer, 401 again (same realm, not stale): should_retry says no; two sends in all."""
    policy = RetryPolicy()
    status, sends = run_request(Exchange(None, make_server()), DigestClient("alice", "wrong"), policy)
    assert (status, sends) == (401, 2)
    assert policy.state("example.com") is RealmState.FAILED


def test_a_stale_nonce_is_retried_with_the_new_nonce_without_counting_as_a_failure() -> None:
    """An expired nonce gets 401 stale=true; the client answers the new nonce and succeeds."""
    clock = FakeClock()
    registrar = make_server(clock=clock, nonce_lifetime=60)
    client = DigestClient("alice", "secret")
    assert run_request(Exchange(None, registrar), client, RetryPolicy()) == (200, 2)
    # The next refresh goes out pre-emptively with the remembered (now expired) nonce.
    old = parse_challenges(registrar.challenge())[0]
    clock.now += 120
    headers = {"Authorization": client.authorize(old, "REGISTER", "sip:example.com")}
    policy = RetryPolicy()
    assert run_request(Exchange(None, registrar), client, policy, headers) == (200, 2)
    assert policy.state("example.com") is RealmState.ANSWERED


def test_a_stale_answer_after_a_real_answer_is_retried_and_a_second_refusal_still_stops() -> None:
    """ANSWERED + stale -> retry (still ANSWERED); then a non-stale challenge -> FAILED."""
    policy = RetryPolicy()
    assert policy.should_retry(digest("MD5"))
    assert policy.should_retry(digest("MD5", stale=True))
    assert policy.state("r") is RealmState.ANSWERED
    assert not policy.should_retry(digest("MD5"))
    assert policy.state("r") is RealmState.FAILED
    assert not policy.should_retry(digest("MD5", stale=True))


def test_a_server_that_always_says_stale_is_given_up_on_after_max_stale_retries() -> None:
    """stale=true answered max_stale_retries times in a row, then refused: no endless loop."""
    policy = RetryPolicy(max_stale_retries=2)
    answers = [policy.should_retry(digest("MD5", stale=True)) for _ in range(5)]
    assert answers == [True, True, True, False, False]


def test_a_proxy_and_a_registrar_challenging_one_request_are_both_answered() -> None:
    """407 from the proxy then 401 from the registrar: both answered, the third send succeeds, proxy nc goes to 2."""
    proxy = make_server(realm="proxy.example.com", algorithms=["MD5"])
    registrar = make_server(realm="example.com", algorithms=["SHA-256"])
    exchange = Exchange(proxy, registrar)
    client = DigestClient("alice", "secret")
    policy = RetryPolicy()
    sent: list[dict[str, str]] = []
    original_send = exchange.send

    def recording_send(headers: dict[str, str]):
        sent.append(dict(headers))
        return original_send(headers)

    exchange.send = recording_send  # type: ignore[method-assign]
    assert run_request(exchange, client, policy) == (200, 3)
    assert policy.state("proxy.example.com", proxy=True) is RealmState.ANSWERED
    assert policy.state("example.com") is RealmState.ANSWERED
    assert set(sent[2]) == {"Proxy-Authorization", "Authorization"}
    assert params_of(sent[1]["Proxy-Authorization"])["nc"] == "00000001"
    assert params_of(sent[2]["Proxy-Authorization"])["nc"] == "00000002"


def test_the_same_realm_as_proxy_and_as_server_is_tracked_separately() -> None:
    """A 407 and a 401 sharing one realm are two answers, not a refusal."""
    policy = RetryPolicy()
    assert policy.should_retry(digest("MD5"), proxy=True)
    assert policy.should_retry(digest("MD5"), proxy=False)
    assert not policy.should_retry(digest("MD5"), proxy=True)


def test_rejected_preemptive_credentials_get_one_fresh_answer() -> None:
    """A fresh policy answers a 401 that follows credentials sent from a remembered challenge."""
    registrar = make_server()
    client = DigestClient("alice", "secret")
    foreign = Challenge("digest", realm="example.com", nonce="from-another-server", qop=("auth",))
    headers = {
        "Authorization": client.authorize(foreign, "REGISTER", "sip:example.com").replace(
            'response="', 'response="0'
        )
    }
    assert run_request(Exchange(None, registrar), client, RetryPolicy(), headers) == (200, 2)


def test_the_retry_table_covers_every_state_and_event_and_failed_is_final() -> None:
    """Every (state, event) pair has a row; FAILED never leads anywhere else and never retries."""
    assert set(RETRY_TRANSITIONS) == set(itertools.product(RealmState, RetryEvent))
    for (state, _event), (new_state, retry) in RETRY_TRANSITIONS.items():
        assert retry == (new_state is not RealmState.FAILED)
        if state is RealmState.FAILED:
            assert new_state is RealmState.FAILED


@settings(max_examples=300, deadline=None)
@given(stale_flags=st.lists(st.booleans(), max_size=20), max_stale=st.integers(0, 4))
def test_no_sequence_of_challenges_gets_more_than_one_plus_max_stale_retries(
    stale_flags: list[bool], max_stale: int
) -> None:
    """For any run of challenges to one realm: at most 1 + max_stale_retries retries, and after a 'no' always 'no'."""
    policy = RetryPolicy(max_stale_retries=max_stale)
    answers = [policy.should_retry(digest("MD5", stale=flag)) for flag in stale_flags]
    assert sum(answers) <= 1 + max_stale
    if False in answers:
        assert not any(answers[answers.index(False) :])


# --------------------------------------------------------------------------------------------
# Fuzz: the only allowed failure is AuthError

HEADERISH = st.text(
    st.sampled_from(
        [
            *'Digest realm nonce qop=auth,auth-int "\\,= \t\r\nBasic abc== algorithm=MD5 stale=true ',
            "\x00",
            "é",
            "\ud800",
        ]
    ),
    max_size=80,
)


@FUZZ
@given(st.text(max_size=120) | HEADERISH)
def test_fuzzed_challenge_values_parse_or_raise_auth_error(value: str) -> None:
    """Arbitrary text never escapes parse_challenges as anything but AuthError, and what parses re-parses equal."""
    try:
        challenges = parse_challenges(value)
    except AuthError:
        return
    assert challenges
    assert parse_challenges(format_challenges(challenges)) == challenges


@FUZZ
@given(st.text(max_size=120) | HEADERISH.map(lambda s: 'Digest username="u", ' + s))
def test_fuzzed_credentials_values_parse_or_raise_auth_error(value: str) -> None:
    """Arbitrary text never escapes parse_credentials as anything but AuthError."""
    try:
        credentials = parse_credentials(value)
    except AuthError:
        return
    assert isinstance(credentials, DigestCredentials)
    assert parse_credentials(credentials.serialize()) == credentials


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120) | HEADERISH.map(lambda s: 'Digest username="alice", realm="example.com", ' + s))
def test_the_server_never_raises_on_arbitrary_credentials(value: str) -> None:
    """DigestServer.check turns any input into a verdict rather than an exception."""
    server = make_server()
    server.challenge()
    assert server.check(value, "REGISTER", "sip:example.com") in (Verdict.REJECTED, Verdict.STALE)


def test_the_module_file_has_no_io_clock_or_logging_imports() -> None:
    """Sans-IO: auth.py imports neither socket, time, asyncio, twisted nor logging."""
    source = Path(auth.__file__).read_text()
    imported = set(re.findall(r"^(?:from|import) ([\w.]+)", source, re.MULTILINE))
    assert not imported & {"socket", "time", "asyncio", "twisted", "twisted.internet", "logging", "datetime"}
