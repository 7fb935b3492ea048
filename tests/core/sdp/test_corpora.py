"""The shared SDP corpus (../shared/corpora/sdp, RFC 4317, 4568, 5245, 8839): every file is read as
its manifest says, and the RFC 4317 offer/answer pairs go through the negotiator.

Skipped when the corpus is absent.
"""

from __future__ import annotations

import csv

import pytest

from sipsimple.core.sdp import (
    Candidate,
    Crypto,
    FrozenSDPSession,
    LocalSDPNegotiationError,
    SDPAttribute,
    SDPNegotiator,
    SDPParseError,
    SDPSession,
)
from tests.conftest import corpora_directory

DIRECTORY = corpora_directory() / "sdp"


def _manifest() -> list[dict[str, str]]:
    path = DIRECTORY / "MANIFEST.tsv"
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


ROWS = _manifest()
pytestmark = pytest.mark.skipif(not ROWS, reason=f"the SDP corpus is not at {DIRECTORY}")


def _files(kind: str) -> list[str]:
    return [row["file"] for row in ROWS if row["kind"] == kind]


def _read(name: str) -> bytes:
    return (DIRECTORY / name).read_bytes()


def test_the_manifest_lists_every_file_of_the_folder_and_only_kinds_this_module_reads():
    listed = {row["file"] for row in ROWS}
    present = {path.name for path in DIRECTORY.iterdir() if path.name != "MANIFEST.tsv"}
    assert listed == present
    assert {row["kind"] for row in ROWS} == {"sdp", "sdp-template", "sdp-lines", "attr-list"}


@pytest.mark.parametrize("name", _files("sdp") or ["-"])
def test_every_corpus_sdp_parses_and_round_trips_byte_for_byte(name):
    data = _read(name)
    for cls in (SDPSession, FrozenSDPSession):
        parsed = cls.parse(data)
        assert bytes(parsed) == data
    assert FrozenSDPSession.parse(data.replace(b"\r\n", b"\n")) == FrozenSDPSession.parse(data)


@pytest.mark.parametrize("name", _files("sdp-template") or ["-"])
def test_templates_with_placeholders_are_refused_with_the_line_of_the_first_placeholder(name):
    data = _read(name)
    first = next(number for number, line in enumerate(data.split(b"\r\n"), 1) if b"$" in line)
    with pytest.raises(SDPParseError) as caught:
        FrozenSDPSession.parse(data)
    assert caught.value.line == first


@pytest.mark.parametrize("name", _files("sdp-lines") or ["-"])
def test_attribute_line_files_parse_line_by_line_and_round_trip(name):
    lines = _read(name).decode().split("\r\n")
    assert lines[-1] == ""
    for line in lines[:-1]:
        parsed = SDPAttribute.parse(line)
        assert str(parsed) == line
        assert parsed.parsed is not None


def test_every_crypto_line_of_rfc_4568_reads_as_a_crypto_attribute_and_round_trips():
    rows = [line.split("\t") for line in _read("rfc4568-crypto-lines.tsv").decode().splitlines()]
    crypto_lines = [row[0] for row in rows if row[0].startswith("a=crypto:")]
    assert len(crypto_lines) == 6
    for line in crypto_lines:
        parsed = SDPAttribute.parse(line)
        assert isinstance(parsed.parsed, Crypto) and str(parsed) == line
        assert parsed.parsed.key_params.startswith("inline:")
    bare_keys = [row[0] for row in rows if row[0].startswith("inline:")]
    for key in bare_keys:
        line = f"a=crypto:7 AES_CM_128_HMAC_SHA1_80 {key}"
        assert SDPAttribute.parse(line).parsed.key_params == key


def test_ice_examples_give_typed_candidates_and_ice_attributes():
    offer = FrozenSDPSession.parse(_read("rfc5245-s17-offer.sdp"))
    assert offer.has_ice_attributes and offer.media[0].has_ice_candidates
    candidates = offer.media[0].attributes.parsed("candidate")
    assert all(isinstance(candidate, Candidate) for candidate in candidates)
    assert {candidate.type for candidate in candidates} == {"host", "srflx"}
    ipv6 = FrozenSDPSession.parse(_read("rfc8839-sA-offer.sdp"))
    assert ipv6.address_type == "IP6" and ipv6.connection.address_type == "IP6"
    assert ipv6.media[0].attributes.parsed("candidate")[1].related_address == "fe80::6676:baff:fe9c:ee4a"


def _pairs() -> list[tuple[str, str, str]]:
    pairs: dict[str, dict[str, str]] = {}
    for row in ROWS:
        if row["kind"] == "sdp" and row["pair_id"]:
            pairs.setdefault(row["pair_id"], {})[row["role"]] = row["file"]
    return [(pair_id, roles["offer"], roles["answer"]) for pair_id, roles in sorted(pairs.items())]


PAIRS = _pairs()


@pytest.mark.parametrize(("pair_id", "offer", "answer"), PAIRS or [("-", "-", "-")])
def test_every_rfc_offer_answer_pair_is_accepted_as_the_peers_answer_to_our_offer(pair_id, offer, answer):
    negotiator = SDPNegotiator()
    sent = negotiator.set_local_offer(FrozenSDPSession.parse(_read(offer)))
    assert bytes(sent) == _read(offer)
    negotiator.set_remote_answer(FrozenSDPSession.parse(_read(answer)))
    active_local, active_remote = negotiator.negotiate()
    assert len(active_local.media) == len(active_remote.media) == len(sent.media)
    for local, remote in zip(active_local.media, active_remote.media, strict=True):
        assert (local.port == 0) == (remote.port == 0)
        if local.port:
            assert local.direction.mirror() is remote.direction
            assert len(local.formats) == len(remote.formats) >= 1


#: RFC examples whose answers use freedoms RFC 3264 allows and our own answers do not take
OWN_ANSWER_DEVIATIONS = {
    "rfc4317-s2.3-1": "payload types 99",  # iLBC renumbered from the offer's 97 (a SHOULD)
    "rfc4317-s3.2-2": "formats the offer does not have: 0",  # PCMU added to the answer (a MAY)
    "rfc4568-s7.1.5": "t= line differs",  # the answer's t=0 0 for the offer's fixed times
}


@pytest.mark.parametrize(("pair_id", "offer", "answer"), PAIRS or [("-", "-", "-")])
def test_the_rfc_answers_pass_as_our_own_answers_except_where_they_take_freedoms_we_do_not(
    pair_id, offer, answer
):
    negotiator = SDPNegotiator()
    negotiator.set_remote_offer(FrozenSDPSession.parse(_read(offer)))
    reason = OWN_ANSWER_DEVIATIONS.get(pair_id)
    if reason is None:
        sent = negotiator.set_local_answer(FrozenSDPSession.parse(_read(answer)))
        assert bytes(sent) == _read(answer)
        negotiator.negotiate()
    else:
        with pytest.raises(LocalSDPNegotiationError, match=reason):
            negotiator.set_local_answer(FrozenSDPSession.parse(_read(answer)))
