"""Fuzzing the SDP parser, and round trips of generated sessions (hypothesis).

Fuzz inputs are mutations of real SDPs (the shared corpus when present, plus the built-in ones of
test_parser.py): bytes flipped, inserted, deleted, lines dropped, repeated and swapped, digits
changed, truncation and trailing garbage. The only failure allowed is SDPParseError; whatever
parses must write out text that parses to the same session and writes out the same text again.
A seeded ``random.Random`` keeps each run reproducible (the seed is in the failure message) while
covering new inputs every day.
"""

from __future__ import annotations

import datetime
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsimple.core.sdp import (
    FrozenSDPSession,
    RTPMap,
    SDPAttribute,
    SDPBandwidthInfo,
    SDPConnection,
    SDPMediaStream,
    SDPParseError,
    SDPSession,
    attribute,
)
from sipsimple.core.sdp.parser import _MEDIA_RANK, _SESSION_RANK
from tests.conftest import corpora_directory

from .test_parser import CANONICAL

INPUTS = 20_000
GARBAGE = [b"\x00", b"\r", b"\n", b"\r\n", b" ", b":", b"/", b"=", b"\xff", b"\t", b"a=", b"m=", b"9" * 30]


def _seeds() -> list[bytes]:
    seeds = [text.encode() for text in CANONICAL.values()]
    directory = corpora_directory() / "sdp"
    if directory.is_dir():
        seeds += [path.read_bytes() for path in sorted(directory.glob("*.sdp"))]
    return seeds


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(9)
        position = rng.randrange(len(buffer) + 1)
        if choice == 0 and buffer:
            buffer[min(position, len(buffer) - 1)] = rng.randrange(256)
        elif choice == 1:
            buffer[position:position] = rng.choice(GARBAGE)
        elif choice == 2:
            del buffer[position : position + rng.randint(1, 8)]
        elif choice in (3, 4, 5):
            lines = bytes(buffer).split(b"\r\n")
            index = rng.randrange(len(lines))
            if choice == 3:
                del lines[index]
            elif choice == 4:
                lines.insert(index, lines[rng.randrange(len(lines))])
            else:
                other = rng.randrange(len(lines))
                lines[index], lines[other] = lines[other], lines[index]
            buffer = bytearray(b"\r\n".join(lines))
        elif choice == 6:
            digits = [i for i, byte in enumerate(buffer) if 0x30 <= byte <= 0x39]
            if digits:
                buffer[rng.choice(digits)] = rng.choice(b"0123456789")
        elif choice == 7:
            del buffer[position:]
        else:
            buffer += rng.choice(GARBAGE) * rng.randint(1, 3)
    return bytes(buffer)


def test_mutated_sdps_raise_only_sdp_parse_error_and_what_parses_round_trips():
    seed = int(datetime.date.today().strftime("%Y%m%d"))
    rng = random.Random(seed)
    seeds = _seeds()
    outcomes = {"parsed": 0, "refused": 0}
    for count in range(INPUTS):
        data = _mutate(rng.choice(seeds), rng)
        try:
            parsed = FrozenSDPSession.parse(data)
        except SDPParseError as error:
            assert error.line is None or error.line >= 1, (seed, count, data)
            outcomes["refused"] += 1
            continue
        except Exception as error:  # pragma: no cover - the failure report
            raise AssertionError(f"seed {seed}, input {count}: {data!r} raised {error!r}") from error
        text = str(parsed)
        again = FrozenSDPSession.parse(text)
        assert again == parsed, (seed, count, data)
        assert str(again) == text, (seed, count, data)
        assert SDPSession.parse(text) == parsed
        outcomes["parsed"] += 1
    # the mutations must exercise both outcomes
    assert outcomes["parsed"] > INPUTS // 20 and outcomes["refused"] > INPUTS // 20, outcomes


# -- generated sessions -------------------------------------------------------------------------

TOKEN_CHARS = "!#$%&'*+-.^_`{|}~" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=8)
texts = st.text(
    alphabet=st.characters(blacklist_characters="\x00\r\n", blacklist_categories=("Cs",)), max_size=20
)
non_ws = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=10)
uint64 = st.integers(0, 2**64 - 1)
ipv4 = st.sampled_from(
    ["192.0.2.1", "198.51.100.7", "0.0.0.0", "203.0.113.254", "host.example.com", "a-b.example"]
)
ipv6 = st.sampled_from(["2001:db8::1", "::1", "fe80::6676:baff:fe9c:ee4a", "host.example.com"])
addresses = st.one_of(st.tuples(st.just("IP4"), ipv4), st.tuples(st.just("IP6"), ipv6))
unknown_names = st.sampled_from(["x-custom", "tool", "orient", "path", "ice-ufrag", "setup", "mid"])


@st.composite
def connections(draw: st.DrawFn) -> SDPConnection:
    address_type, address = draw(addresses)
    if address_type == "IP4" and draw(st.booleans()) and address[0].isdigit():
        address = f"224.2.1.1/{draw(st.integers(0, 255))}"
    return SDPConnection(address, "IN", address_type)


@st.composite
def attributes(draw: st.DrawFn) -> SDPAttribute:
    kind = draw(st.sampled_from(["unknown", "rtpmap", "direction", "ptime", "rtcp-mux", "fmtp"]))
    if kind == "unknown":
        return SDPAttribute(draw(unknown_names), draw(texts))
    if kind == "rtpmap":
        channels = draw(st.sampled_from([None, "2"]))
        return attribute(
            "rtpmap", RTPMap(draw(st.integers(0, 127)), draw(tokens), draw(st.integers(1, 96000)), channels)
        )
    if kind == "direction":
        return SDPAttribute(draw(st.sampled_from(["sendrecv", "sendonly", "recvonly", "inactive"])))
    if kind == "ptime":
        return SDPAttribute("ptime", str(draw(st.integers(1, 1000))))
    if kind == "fmtp":
        return SDPAttribute("fmtp", f"{draw(st.integers(0, 127))} {draw(texts)}".rstrip())
    return SDPAttribute("rtcp-mux")


def _sorted(lines: list[tuple[str, str]], ranks: dict[str, float]) -> list[tuple[str, str]]:
    """Kept lines in the order the writer puts them (so that parse(str(s)) == s)."""
    unknown = ranks["a"] - 0.5
    return sorted(lines, key=lambda line: ranks.get(line[0], unknown))


@st.composite
def media_streams(draw: st.DrawFn) -> SDPMediaStream:
    rtp = draw(st.booleans())
    transport = (
        draw(st.sampled_from(["RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF"]))
        if rtp
        else draw(st.sampled_from(["TCP/MSRP", "TCP/TLS/MSRP", "udp"]))
    )
    formats = draw(st.lists(st.integers(0, 127).map(str) if rtp else tokens, min_size=1, max_size=5))
    other = draw(st.lists(st.tuples(st.sampled_from("kxyw"), texts), max_size=2))
    return SDPMediaStream(
        draw(st.sampled_from(["audio", "video", "message", "application"])),
        draw(st.integers(0, 65535)),
        transport,
        draw(st.integers(1, 4)),
        formats,
        draw(st.none() | texts),
        draw(st.none() | connections()),
        draw(st.lists(attributes(), max_size=5)),
        draw(st.lists(st.builds(SDPBandwidthInfo, tokens, uint64), max_size=2)),
        _sorted(other, _MEDIA_RANK),
    )


@st.composite
def sessions(draw: st.DrawFn) -> SDPSession:
    address_type, address = draw(addresses)
    other = draw(
        st.lists(
            st.one_of(
                st.tuples(st.sampled_from("uepzkxyw"), texts),
                st.tuples(st.just("r"), texts),
                st.tuples(st.just("t"), st.tuples(uint64, uint64).map(lambda t: f"{t[0]} {t[1]}")),
            ),
            max_size=4,
        )
    )
    return SDPSession(
        address,
        draw(uint64),
        draw(uint64),
        draw(non_ws),
        "IN",
        address_type,
        draw(texts),
        draw(st.none() | texts),
        draw(st.none() | connections()),
        draw(uint64),
        draw(uint64),
        draw(st.lists(attributes(), max_size=4)),
        draw(st.lists(st.builds(SDPBandwidthInfo, tokens, uint64), max_size=2)),
        draw(st.lists(media_streams(), max_size=3)),
        _sorted(other, _SESSION_RANK),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_any_session_the_model_accepts_is_written_as_text_that_parses_back_to_it(session):
    text = str(session)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    for cls in (SDPSession, FrozenSDPSession):
        parsed = cls.parse(text)
        assert parsed == session
        assert str(parsed) == text
    assert FrozenSDPSession.parse(text.encode()) == FrozenSDPSession.new(session)
