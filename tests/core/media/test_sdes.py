"""SDES key exchange (sipsimple.core.media.sdes, RFC 4568), sans-IO.

What they prove:
  * ``a=crypto`` values parse to their fields (the RFC 4568 §4 example typed in from the RFC) and
    round-trip: str(parse(x)) == x for canonical input, and for any attribute hypothesis builds;
    arbitrary text fails only with CryptoAttributeError, whose message says what is wrong;
  * what we cannot honour (MKI, several keys, short lifetimes, KDR, weakened SRTP, unknown suites
    and session parameters) is named, and an offer's next usable line is taken instead;
  * offers and answers for every pair of key negotiation modes (None, opportunistic,
    sdes_optional, sdes_mandatory) give the table of the module docstring: the transport profile,
    SRTP or plain RTP, or an SDESError; the answerer keeps the tag and takes the first suite it
    supports; the keys cross over (our outbound key is the peer's inbound one) and packets flow
    through two SRTPSessions keyed from the results;
  * re-INVITEs keep keys that did not change (no new context) and rekey the direction whose key
    changed, mid-stream, without losing packets.
"""

from __future__ import annotations

import base64
import itertools
import struct
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core.media import _srtp
from sipsimple.core.media.sdes import (
    DEFAULT_SUITES,
    SUITES,
    CryptoAttribute,
    CryptoAttributeError,
    KeyParams,
    SDESError,
    SDESNegotiator,
    install_keys,
)

CM80, CM32, GCM128, GCM256 = DEFAULT_SUITES
ALL = list(SUITES)


def counter_bytes(start: int = 0):
    """A deterministic random_bytes: every key differs from every other."""
    counter = itertools.count(start)

    def random_bytes(n: int) -> bytes:
        k = next(counter)
        return bytes((k * 37 + i) & 0xFF for i in range(n))

    return random_bytes


def negotiator(mode, suites=DEFAULT_SUITES, start=0, available=None):
    return SDESNegotiator(
        mode, suites, available=ALL if available is None else available, random_bytes=counter_bytes(start)
    )


def inline(key: bytes) -> str:
    return "inline:" + base64.b64encode(key).decode()


# ---- a=crypto -----------------------------------------------------------------------------------


RFC4568_EXAMPLE = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"


def test_the_rfc4568_example_parses_to_its_fields_and_round_trips():
    a = CryptoAttribute.parse(RFC4568_EXAMPLE)
    assert (a.tag, a.suite, len(a.keys), a.session_params) == (1, CM80, 1, ())
    assert a.key == base64.b64decode("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
    assert len(a.key) == 30
    assert (a.keys[0].lifetime, a.keys[0].lifetime_packets, a.keys[0].mki) == ("2^20", 2**20, (1, 32))
    assert str(a) == RFC4568_EXAMPLE
    assert CryptoAttribute.parse(b"crypto:" + RFC4568_EXAMPLE.encode()) == a


@pytest.mark.parametrize(
    "value",
    [
        "1 AES_CM_128_HMAC_SHA1_32 inline:" + base64.b64encode(bytes(range(30))).decode(),
        "7 AEAD_AES_128_GCM inline:" + base64.b64encode(bytes(28)).decode() + "|2147483648",
        "123456789 AEAD_AES_256_GCM inline:" + base64.b64encode(bytes(44)).decode() + " KDR=0 WSH=128",
        "2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;"
        "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP",
    ],
)
def test_canonical_attributes_round_trip(value):
    assert str(CryptoAttribute.parse(value)) == value


def test_whitespace_case_and_missing_padding_are_tolerated_on_input():
    key = bytes(range(28))
    text = base64.b64encode(key).decode().rstrip("=")
    a = CryptoAttribute.parse(f"  3\taead_aes_128_gcm   INLINE:{text}  ")
    assert (a.tag, a.suite, a.key) == (3, GCM128, key)
    assert str(a) == f"3 {GCM128} {inline(key)}"


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("", "needs a tag, a suite and key parameters"),
        ("1 AES_CM_128_HMAC_SHA1_80", "needs a tag, a suite and key parameters"),
        ("x AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)), "tag 'x'"),
        ("1234567890 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)), "1 to 9 digits"),
        ("1 AES-CM " + inline(bytes(30)), "not a suite name"),
        ("1 AES_CM_128_HMAC_SHA1_80 uri:sip:key@example.com", "key method 'uri'"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:not*base64", "not base64"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:QUJDRAEFG", "not base64"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(16)), "needs 30 octets"),
        ("1 AEAD_AES_256_GCM " + inline(bytes(30)), "needs 44 octets"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + "|2^x", "neither a key lifetime nor an MKI"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + "|1:0", "1 to 128 octets"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + "|256:1", "1 to 128 octets"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + "|1:4|2^20", "neither a key lifetime nor an MKI"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + "|2^20|1:4|5", "too many '|' fields"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + "|2^49", "exceeds"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + " KDR=25", "out of range"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + " WSH=many", "needs a number"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:\u00e9t\u00e9".encode(), "ASCII"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + " KDR=\u00b2", "needs a number"),
        ("1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + "|2^99999999", "neither a key lifetime"),
        (
            "1 AES_CM_128_HMAC_SHA1_80 " + inline(bytes(30)) + "|" + "9" * 5000 + ":4",
            "neither a key lifetime",
        ),
    ],
)
def test_malformed_attributes_are_refused_with_a_clear_reason(value, complaint):
    with pytest.raises(CryptoAttributeError, match=complaint.replace("^", r"\^").replace("*", r"\*")) as e:
        CryptoAttribute.parse(value)
    assert isinstance(e.value, SDESError) and isinstance(e.value, ValueError)
    assert e.value.reason == str(e.value)


@pytest.mark.parametrize(
    ("suffix", "reason"),
    [
        ("|2^20", "too short"),
        ("|1048576", "too short"),
        ("|1:4", "MKI is not supported"),
        (";" + inline(bytes(30)), "several master keys"),
        (" KDR=1", "key derivation rate"),
        (" UNENCRYPTED_SRTP", "weakened SRTP"),
        (" UNENCRYPTED_SRTCP", "weakened SRTP"),
        (" UNAUTHENTICATED_SRTP", "weakened SRTP"),
        (" WSH=32", "below 64"),
        (" SOMETHING_NEW", "unknown session parameter"),
    ],
)
def test_what_we_cannot_honour_is_named(suffix, reason):
    line = CryptoAttribute.parse(f"1 {CM80} {inline(bytes(30))}{suffix}")
    assert reason in line.unusable_reason(ALL)


@pytest.mark.parametrize(
    "suffix", ["", "|2^31", "|2^48", " KDR=0", " WSH=64", " FEC_ORDER=SRTP_FEC", " -LATER_EXT=1"]
)
def test_what_we_can_honour_is_accepted(suffix):
    assert CryptoAttribute.parse(f"1 {CM80} {inline(bytes(30))}{suffix}").unusable_reason(ALL) is None


def test_a_suite_this_libsrtp_lacks_is_not_usable():
    line = CryptoAttribute.parse(f"1 {GCM256} {inline(bytes(44))}")
    assert line.unusable_reason([CM80]) == f"crypto suite {GCM256} is not supported"
    other = CryptoAttribute.parse("1 AES_256_CM_HMAC_SHA1_80 " + inline(bytes(46)))
    assert "not supported" in other.unusable_reason(ALL)


attributes = st.builds(
    lambda tag, suite, keys, params: CryptoAttribute(tag, suite, tuple(keys), tuple(params)),
    st.integers(0, 999_999_999),
    st.sampled_from([*ALL, "F8_128_HMAC_SHA1_80", "X_1"]),
    st.lists(
        st.builds(
            KeyParams,
            st.binary(min_size=1, max_size=60),
            st.one_of(st.none(), st.integers(0, 48).map(lambda n: f"2^{n}"), st.integers(0, 2**40).map(str)),
            st.one_of(st.none(), st.tuples(st.integers(0, 255), st.integers(1, 128))),
        ),
        min_size=1,
        max_size=3,
    ),
    st.lists(
        st.sampled_from(["KDR=0", "WSH=64", "UNENCRYPTED_SRTCP", "-X", "FEC_ORDER=FEC_SRTP"]), max_size=3
    ),
)


@settings(max_examples=300, deadline=None)
@given(attributes)
def test_any_attribute_round_trips_or_is_refused_for_its_key_length(a):
    try:
        parsed = CryptoAttribute.parse(str(a))
    except CryptoAttributeError as e:
        # only a known suite with a key of the wrong length is refused
        assert a.suite in SUITES and "octets" in e.reason
        return
    assert parsed == a
    assert str(parsed) == str(a)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120) | st.binary(max_size=120))
def test_arbitrary_input_fails_only_with_crypto_attribute_error(value):
    try:
        a = CryptoAttribute.parse(value)
    except CryptoAttributeError:
        return
    assert str(CryptoAttribute.parse(str(a))) == str(a)


# ---- offers and answers -------------------------------------------------------------------------


def test_an_offer_lists_our_first_two_suites_in_order_with_tags_and_fresh_keys():
    offer = negotiator("sdes_optional").make_offer()
    assert offer.transport == "RTP/SAVP"
    lines = [CryptoAttribute.parse(c) for c in offer.crypto]
    assert [(line.tag, line.suite) for line in lines] == [(1, CM80), (2, CM32)]
    assert len({line.key for line in lines}) == 2
    assert all(len(line.key) == SUITES[line.suite].inline_length for line in lines)
    assert offer.keys is None and not offer.srtp_active


@pytest.mark.parametrize(
    ("mode", "transport", "crypto"),
    [
        (None, "RTP/AVP", False),
        ("opportunistic", "RTP/AVP", True),
        ("sdes_optional", "RTP/SAVP", True),
        ("sdes_mandatory", "RTP/SAVP", True),
    ],
)
def test_each_mode_offers_its_profile(mode, transport, crypto):
    offer = negotiator(mode).make_offer()
    assert (offer.transport, bool(offer.crypto)) == (transport, crypto)
    assert negotiator(mode).make_offer("RTP/AVPF").transport == transport + "F"


MODES = [None, "opportunistic", "sdes_optional", "sdes_mandatory"]
# (offerer mode, answerer mode) -> "srtp", "plain", or "error" (the answerer refuses)
OUTCOME = {
    (None, None): "plain",
    (None, "opportunistic"): "plain",
    (None, "sdes_optional"): "plain",
    (None, "sdes_mandatory"): "error",
    ("opportunistic", None): "plain",
    **{("opportunistic", m): "srtp" for m in MODES[1:]},
    ("sdes_optional", None): "error",
    **{("sdes_optional", m): "srtp" for m in MODES[1:]},
    ("sdes_mandatory", None): "error",
    **{("sdes_mandatory", m): "srtp" for m in MODES[1:]},
}


@pytest.mark.parametrize(("offerer_mode", "answerer_mode"), list(itertools.product(MODES, MODES)))
def test_offer_answer_between_every_pair_of_modes(offerer_mode, answerer_mode):
    alice, bob = negotiator(offerer_mode, start=0), negotiator(answerer_mode, start=100)
    offer = alice.make_offer()
    expected = OUTCOME[(offerer_mode, answerer_mode)]
    if expected == "error":
        with pytest.raises(SDESError, match="SRTP") as e:
            bob.process_offer(offer.transport, offer.crypto)
        assert e.value.reason
        return
    answer = bob.process_offer(offer.transport, offer.crypto)
    assert answer.transport == offer.transport, "the answer keeps the offer's profile"
    result = alice.process_answer(answer.transport, answer.crypto)
    assert result.srtp_active == answer.srtp_active == (expected == "srtp")
    assert alice.srtp_active == bob.srtp_active == (expected == "srtp")
    if expected == "srtp":
        assert len(answer.crypto) == 1
        assert (result.keys.suite, result.keys.tag) == (CM80, 1) == (answer.keys.suite, answer.keys.tag)
        assert result.keys.local_key == answer.keys.remote_key
        assert result.keys.remote_key == answer.keys.local_key
        assert result.keys.local_key != result.keys.remote_key
        assert result.outbound_changed and result.inbound_changed
    else:
        assert answer.crypto == () and result.keys is None


def rtp(seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) + bytes([seq & 0xFF]) * 160


@pytest.mark.parametrize("suite", _srtp.available_suites())
def test_keys_from_the_negotiation_carry_packets_both_ways(suite):
    alice, bob = SDESNegotiator("sdes_mandatory", [suite]), SDESNegotiator("opportunistic")
    offer = alice.make_offer()
    answer = bob.process_offer(offer.transport, offer.crypto)
    result = alice.process_answer(answer.transport, answer.crypto)
    a, b = _srtp.SRTPSession(), _srtp.SRTPSession()
    assert install_keys(a, result.keys) == (True, True)
    assert install_keys(b, answer.keys) == (True, True)
    assert b.unprotect_rtp(a.protect_rtp(rtp(1))) == rtp(1)
    assert a.unprotect_rtp(b.protect_rtp(rtp(2))) == rtp(2)
    assert a.outbound_suite == b.inbound_suite == suite


def test_the_answerer_takes_the_first_offered_line_it_can_honour_and_keeps_its_tag():
    offer = [
        "4 AES_256_CM_HMAC_SHA1_80 " + inline(bytes(46)),
        f"5 {CM80} {inline(bytes(30))}|2^20|1:4",
        f"6 {CM32} {inline(bytes(range(30)))}",
        f"7 {CM80} {inline(bytes(30))}",
    ]
    answer = negotiator("sdes_optional", start=50).process_offer("RTP/SAVP", offer)
    line = CryptoAttribute.parse(answer.crypto[0])
    assert (line.tag, line.suite) == (6, CM32)
    assert answer.keys.remote_key == bytes(range(30))
    assert line.key == answer.keys.local_key != answer.keys.remote_key


def test_a_malformed_line_in_an_offer_is_skipped_for_the_next_one():
    offer = [f"1 {CM80} inline:!!!", f"2 {CM80} {inline(bytes(30))}"]
    answer = negotiator("opportunistic").process_offer("RTP/AVP", offer)
    assert answer.keys.tag == 2


def test_the_answerer_follows_the_offer_order_not_its_own():
    bob = negotiator("opportunistic", suites=[CM80, GCM128])
    offer = [f"1 {GCM128} {inline(bytes(28))}", f"2 {CM80} {inline(bytes(30))}"]
    assert bob.process_offer("RTP/AVP", offer).keys.suite == GCM128


@pytest.mark.parametrize(
    ("transport", "mode"), [("RTP/SAVP", "opportunistic"), ("RTP/AVP", "sdes_mandatory")]
)
def test_no_usable_line_where_srtp_is_required_is_an_error_listing_the_reasons(transport, mode):
    offer = [f"1 {CM80} {inline(bytes(30))}|1:4", f"2 {CM32} {inline(bytes(30))} UNENCRYPTED_SRTP"]
    with pytest.raises(SDESError) as e:
        negotiator(mode).process_offer(transport, offer)
    assert "MKI is not supported" in e.value.reason
    assert "weakened SRTP" in e.value.reason


def test_no_usable_line_in_an_optional_offer_means_plain_rtp():
    offer = [f"1 {CM80} {inline(bytes(30))}|1:4"]
    answer = negotiator("sdes_optional").process_offer("RTP/AVP", offer)
    assert (answer.transport, answer.crypto, answer.keys) == ("RTP/AVP", (), None)


def test_an_answerer_restricted_to_gcm_does_plain_rtp_with_an_aes_cm_opportunistic_offer():
    offer = negotiator("opportunistic", suites=[CM80]).make_offer()
    bob = negotiator("opportunistic", suites=[GCM256])
    assert not bob.process_offer(offer.transport, offer.crypto).srtp_active


def answer_line(tag: int, suite: str, key: bytes, extra: str = "") -> str:
    return f"{tag} {suite} {inline(key)}{extra}"


@pytest.mark.parametrize(
    ("lines", "complaint"),
    [
        ([answer_line(9, CM80, bytes(30))], "tag 9"),
        ([answer_line(1, CM32, bytes(30))], "not one we offered"),
        ([answer_line(1, CM80, bytes(30)), answer_line(2, CM32, bytes(30))], "exactly one"),
        ([answer_line(1, CM80, bytes(30), "|1:4")], "MKI"),
        ([answer_line(1, CM80, bytes(30), "|2^16")], "too short"),
        ([answer_line(1, CM80, bytes(29))], "30 octets"),
    ],
)
def test_a_bad_answer_is_an_error(lines, complaint):
    alice = negotiator("opportunistic")
    alice.make_offer()
    with pytest.raises(SDESError, match=complaint):
        alice.process_answer("RTP/AVP", lines)


def test_an_answer_without_crypto_fails_mandatory_and_savp_but_not_opportunistic():
    for mode, transport in [("sdes_mandatory", "RTP/SAVP"), ("sdes_optional", "RTP/SAVP")]:
        alice = negotiator(mode)
        alice.make_offer()
        with pytest.raises(SDESError, match="no crypto attribute"):
            alice.process_answer(transport, [])
    alice = negotiator("sdes_optional")
    alice.make_offer()
    assert alice.process_answer("RTP/AVP", []).keys is None, "a peer that fell back to RTP/AVP"
    alice = negotiator("opportunistic")
    alice.make_offer()
    assert alice.process_answer("RTP/AVP", []).keys is None


def test_an_answer_needs_an_offer_and_a_disabled_offerer_refuses_savp():
    with pytest.raises(SDESError, match="no offer of ours"):
        negotiator("opportunistic").process_answer("RTP/AVP", [])
    alice = negotiator(None)
    alice.make_offer()
    with pytest.raises(SDESError, match="did not offer"):
        alice.process_answer("RTP/SAVP", [answer_line(1, CM80, bytes(30))])


def test_a_disabled_offerer_ignores_crypto_lines_in_a_plain_answer():
    alice = negotiator(None)
    alice.make_offer()
    result = alice.process_answer("RTP/AVP", ["1 AES_CM_128_HMAC_SHA1_80 inline:garbage!"])
    assert not result.srtp_active and not alice.srtp_active


def test_an_opportunistic_offerer_accepts_an_answer_that_switched_to_savp():
    alice = negotiator("opportunistic")
    alice.make_offer()
    assert alice.process_answer("RTP/SAVP", [answer_line(1, CM80, bytes(30))]).srtp_active


# ---- re-INVITEs ---------------------------------------------------------------------------------


def established(offerer="opportunistic", answerer="opportunistic"):
    alice, bob = negotiator(offerer, start=0), negotiator(answerer, start=100)
    offer = alice.make_offer()
    answer = bob.process_offer(offer.transport, offer.crypto)
    alice.process_answer(answer.transport, answer.crypto)
    return alice, bob


def test_a_re_invite_that_keeps_the_keys_changes_nothing():
    alice, bob = established()
    keys = alice.keys, bob.keys
    offer = alice.make_offer()
    assert CryptoAttribute.parse(offer.crypto[0]).key == keys[0].local_key
    answer = bob.process_offer(offer.transport, offer.crypto)
    result = alice.process_answer(answer.transport, answer.crypto)
    assert (alice.keys, bob.keys) == keys
    assert not (answer.outbound_changed or answer.inbound_changed)
    assert not (result.outbound_changed or result.inbound_changed)
    # the other side re-offers (hold/unhold): still nothing changes
    offer = bob.make_offer()
    answer = alice.process_offer(offer.transport, offer.crypto)
    result = bob.process_answer(answer.transport, answer.crypto)
    assert (alice.keys, bob.keys) == keys
    assert not (answer.outbound_changed or answer.inbound_changed or result.outbound_changed)


def test_a_rekeying_re_invite_changes_only_the_direction_whose_key_changed_mid_stream():
    alice, bob = established()
    a, b = _srtp.SRTPSession(), _srtp.SRTPSession()
    install_keys(a, alice.keys)
    install_keys(b, bob.keys)
    for seq in range(1, 4):
        assert b.unprotect_rtp(a.protect_rtp(rtp(seq))) == rtp(seq)
    offer = alice.make_offer(rekey=True)
    answer = bob.process_offer(offer.transport, offer.crypto)
    assert (answer.outbound_changed, answer.inbound_changed) == (False, True)
    assert install_keys(b, answer.keys) == (False, True)
    in_flight = a.protect_rtp(rtp(4))  # alice still sends with her old key until she has the answer
    result = alice.process_answer(answer.transport, answer.crypto)
    assert (result.outbound_changed, result.inbound_changed) == (True, False)
    assert install_keys(a, result.keys) == (True, False)
    assert b.unprotect_rtp(a.protect_rtp(rtp(5))) == rtp(5)
    assert b.unprotect_rtp(in_flight) == rtp(4)
    assert a.unprotect_rtp(b.protect_rtp(rtp(6))) == rtp(6)
    assert (a.stats.outbound_rekeys, b.stats.inbound_rekeys, b.stats.outbound_rekeys) == (1, 1, 0)


def test_offer_limit_none_offers_every_suite_and_answers_take_suites_beyond_the_limit():
    """Only the offer is cut short (to keep INVITEs under the UDP limit): with ``offer_limit=None``
    all four suites are offered, and the default negotiator still answers a GCM-only offer."""
    every = SDESNegotiator("sdes_optional", available=ALL, random_bytes=counter_bytes(0), offer_limit=None)
    lines = [CryptoAttribute.parse(c) for c in every.make_offer().crypto]
    assert [line.suite for line in lines] == [CM80, CM32, GCM128, GCM256]
    answer = negotiator("sdes_optional").process_offer("RTP/SAVP", [answer_line(5, GCM256, bytes(range(44)))])
    assert (answer.keys.suite, answer.keys.tag) == (GCM256, 5)


def test_a_re_offer_keeps_the_suite_in_force_even_beyond_the_offer_limit():
    """A call that settled on AEAD_AES_256_GCM (the peer offered it) re-offers it with the same key,
    next to the first two suites, so the answerer can keep the SRTP context (RFC 4568 §7.1.4)."""
    bob = negotiator("sdes_optional")
    settled = bob.process_offer("RTP/SAVP", [answer_line(1, GCM256, bytes(range(44)))]).keys
    lines = [CryptoAttribute.parse(c) for c in bob.make_offer().crypto]
    assert [line.suite for line in lines] == [CM80, CM32, GCM256]
    assert lines[2].key == settled.local_key


def test_a_re_offer_with_another_suite_rekeys_both_directions():
    _, bob = established()
    old = bob.keys
    offer = [answer_line(3, GCM256, bytes(range(44)))]
    answer = bob.process_offer("RTP/AVP", offer)
    assert (answer.keys.suite, answer.keys.tag) == (GCM256, 3)
    assert answer.outbound_changed and answer.inbound_changed
    assert answer.keys.local_key != old.local_key and len(answer.keys.local_key) == 44


def test_an_opportunistic_re_offer_without_crypto_turns_srtp_off_and_mandatory_refuses_it():
    _, bob = established()
    answer = bob.process_offer("RTP/AVP", [])
    assert answer.keys is None and answer.outbound_changed and answer.inbound_changed
    assert not bob.srtp_active
    strict = established("sdes_mandatory", "sdes_mandatory")[1]
    with pytest.raises(SDESError, match="required"):
        strict.process_offer("RTP/SAVP", [])


def test_installing_no_keys_clears_the_session():
    s = _srtp.SRTPSession()
    assert install_keys(s, None) == (False, False)
    alice, _ = established()
    install_keys(s, alice.keys)
    assert install_keys(s, alice.keys) == (False, False)
    assert install_keys(s, None) == (True, True)
    assert not s.active


# ---- construction -------------------------------------------------------------------------------


def test_the_negotiator_follows_the_account_encryption_settings():
    def account(enabled, mode):
        return SimpleNamespace(
            rtp=SimpleNamespace(encryption=SimpleNamespace(enabled=enabled, key_negotiation=mode))
        )

    assert SDESNegotiator.for_account(account(True, "sdes_mandatory")).mode == "sdes_mandatory"
    assert SDESNegotiator.for_account(account(False, "sdes_mandatory")).mode is None
    assert SDESNegotiator.for_account(account(True, "opportunistic")).make_offer().transport == "RTP/AVP"


def test_the_default_suites_are_what_this_libsrtp_runs():
    assert SDESNegotiator().suites == tuple(s for s in DEFAULT_SUITES if s in _srtp.available_suites())
    assert negotiator("opportunistic", available=[CM32, CM80]).suites == (CM80, CM32)


def test_bad_construction_arguments_are_value_errors():
    with pytest.raises(ValueError, match="key negotiation"):
        SDESNegotiator("zrtp", available=ALL)
    with pytest.raises(ValueError, match="unknown SRTP crypto suites"):
        SDESNegotiator("opportunistic", ["NULL_CIPHER"], available=ALL)
    with pytest.raises(ValueError, match="none of the SRTP crypto suites"):
        SDESNegotiator("opportunistic", [GCM256], available=[CM80])
    with pytest.raises(ValueError, match="wrong number of octets"):
        SDESNegotiator("opportunistic", available=ALL, random_bytes=lambda n: b"short").make_offer()
