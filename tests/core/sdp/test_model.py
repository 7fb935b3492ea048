"""The SDP object model: checked fields, mutable and Frozen flavours, conversions, equality, helpers."""

from __future__ import annotations

import copy
import pickle

import pytest

from sipsimple.core.sdp import (
    Direction,
    FrozenSDPAttribute,
    FrozenSDPAttributeList,
    FrozenSDPBandwidthInfo,
    FrozenSDPConnection,
    FrozenSDPMediaStream,
    FrozenSDPSession,
    SDPAttribute,
    SDPAttributeList,
    SDPBandwidthInfo,
    SDPConnection,
    SDPMediaStream,
    SDPSession,
)


def audio(port: int = 49170, **changes: object) -> SDPMediaStream:
    values: dict[str, object] = {
        "formats": ["0", "101"],
        "attributes": [
            SDPAttribute("rtpmap", "0 PCMU/8000"),
            SDPAttribute("rtpmap", "101 telephone-event/8000"),
        ],
    }
    values.update(changes)
    return SDPMediaStream("audio", port, "RTP/AVP", **values)  # type: ignore[arg-type]


def session(**changes: object) -> SDPSession:
    values: dict[str, object] = {
        "id": 1,
        "version": 1,
        "connection": SDPConnection("192.0.2.1"),
        "media": [audio()],
    }
    values.update(changes)
    return SDPSession("192.0.2.1", **values)  # type: ignore[arg-type]


def test_constructor_defaults_follow_the_reference_core_names_and_rfc_3264_recommendations():
    made = SDPSession("192.0.2.1")
    assert (made.user, made.net_type, made.address_type, made.name) == ("-", "IN", "IP4", "-")
    assert (made.start_time, made.stop_time) == (0, 0)
    assert made.version == made.id < 2**62
    assert made.info is None and made.connection is None
    assert list(made.attributes) == [] and made.bandwidth_info == [] and made.media == []
    assert str(made) == f"v=0\r\no=- {made.id} {made.id} IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"


def test_two_sessions_made_without_an_id_get_different_ids():
    assert len({SDPSession("192.0.2.1").id for _ in range(20)}) > 1


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: SDPConnection("192.0.2.1", address_type="IP6"), ValueError),
        (lambda: SDPConnection("2001:db8::1"), ValueError),
        (lambda: SDPConnection("999.1.1.1"), ValueError),
        (lambda: SDPConnection("host name"), ValueError),
        (lambda: SDPConnection("224.2.1.1/127/3/4"), ValueError),
        (lambda: SDPConnection("ff15::101/3/2", address_type="IP6"), ValueError),
        (lambda: SDPConnection(b"192.0.2.1"), TypeError),  # type: ignore[arg-type]
        (lambda: SDPBandwidthInfo("AS", -1), ValueError),
        (lambda: SDPBandwidthInfo("A:S", 1), ValueError),
        (lambda: SDPBandwidthInfo("AS", True), TypeError),
        (lambda: SDPAttribute("rtp map", "0 PCMU/8000"), ValueError),
        (lambda: SDPAttribute("x", "a\r\nb"), ValueError),
        (lambda: SDPMediaStream("audio", 70000, "RTP/AVP", formats=["0"]), ValueError),
        (lambda: SDPMediaStream("audio", 1, "RTP AVP", formats=["0"]), ValueError),
        (lambda: SDPMediaStream("audio", 1, "RTP/AVP", formats=["0 8"]), ValueError),
        (lambda: SDPMediaStream("audio", 1, "RTP/AVP", port_count=0), ValueError),
        (lambda: SDPMediaStream("audio", 1, "RTP/AVP", formats="0"), TypeError),
        (lambda: SDPMediaStream("audio", 1, "RTP/AVP", attributes=["a=x"]), TypeError),
        (lambda: SDPMediaStream("audio", 1, "RTP/AVP", other_lines=[("X", "y")]), ValueError),
        (lambda: SDPMediaStream("audio", 1, "RTP/AVP", other_lines=["x=y"]), TypeError),
        (lambda: SDPMediaStream("audio", 1, "RTP/AVP", other_lines=5), TypeError),
        (lambda: SDPMediaStream("audio", 1, "RTP/AVP", attributes=5), TypeError),
        (lambda: SDPMediaStream("audio", 1, "RTP/AVP", bandwidth_info=5), TypeError),
        (lambda: SDPMediaStream("audio", 1, 5), TypeError),  # type: ignore[arg-type]
        (lambda: SDPSession("192.0.2.1", id=2**64), ValueError),
        (lambda: SDPSession("192.0.2.1", user="a b"), ValueError),
        (lambda: SDPSession("192.0.2.1", name="a\nb"), ValueError),
        (lambda: SDPSession("192.0.2.1", media=[SDPConnection("192.0.2.1")]), TypeError),
        (lambda: SDPSession("192.0.2.1", connection="192.0.2.1"), TypeError),
        (lambda: SDPSession("2001:db8::1"), ValueError),
    ],
)
def test_values_that_break_the_sdp_grammar_are_refused_at_construction(make, error):
    with pytest.raises(error):
        make()


def test_addresses_may_be_ipv4_ipv6_or_domain_names_and_multicast_addresses_keep_their_suffix():
    assert SDPConnection("host.atlanta.example.com").host == "host.atlanta.example.com"
    assert SDPConnection("2001:db8::1", address_type="IP6").address == "2001:db8::1"
    assert SDPConnection("example.com", address_type="IP6").address == "example.com"
    multicast = SDPConnection("224.2.1.1/127/3")
    assert (multicast.address, multicast.host) == ("224.2.1.1/127/3", "224.2.1.1")
    assert SDPConnection("ff15::101/3", address_type="IP6").host == "ff15::101"
    assert SDPConnection("x-anything", address_type="X-ATM").address == "x-anything"
    assert SDPConnection("0.0.0.0").is_null and not SDPConnection("0.0.0.1").is_null


def test_assignments_to_mutable_objects_are_checked_and_a_refused_one_changes_nothing():
    connection = SDPConnection("192.0.2.1")
    with pytest.raises(ValueError, match="IPv6"):
        connection.address_type = "IP6"
    assert connection.address_type == "IP4"
    connection.address = "192.0.2.2"
    assert str(connection) == "c=IN IP4 192.0.2.2"
    media = audio()
    with pytest.raises(ValueError):
        media.port = -1
    assert media.port == 49170
    media.formats = ("8",)
    assert media.formats == ["8"] and isinstance(media.formats, list)


def test_frozen_objects_refuse_every_change_and_are_hashable():
    frozen = FrozenSDPSession.new(session())
    for name, value in (("version", 2), ("media", []), ("direction", "sendonly")):
        with pytest.raises(AttributeError):
            setattr(frozen, name, value)
    with pytest.raises(AttributeError):
        frozen.media[0].port = 0
    with pytest.raises(AttributeError):
        frozen.media[0].direction = Direction.INACTIVE
    with pytest.raises(AttributeError):
        del frozen.name
    assert isinstance(frozen.media, tuple) and isinstance(frozen.media[0], FrozenSDPMediaStream)
    assert isinstance(frozen.attributes, FrozenSDPAttributeList)
    assert isinstance(frozen.connection, FrozenSDPConnection)
    assert hash(frozen) == hash(FrozenSDPSession.new(session()))
    assert len({frozen, FrozenSDPSession.new(session()), FrozenSDPSession.new(session(version=2))}) == 2


def test_mutable_objects_are_not_hashable():
    for value in (session(), audio(), SDPConnection("192.0.2.1"), SDPAttribute("x"), SDPAttributeList()):
        with pytest.raises(TypeError):
            hash(value)


def test_mutable_and_frozen_objects_of_one_family_compare_equal_and_other_families_do_not():
    mutable = session()
    frozen = FrozenSDPSession.new(mutable)
    assert frozen == mutable and mutable == frozen
    assert frozen.media[0] == mutable.media[0]
    assert FrozenSDPAttribute("sendrecv") == SDPAttribute("sendrecv")
    assert FrozenSDPBandwidthInfo("AS", 64) == SDPBandwidthInfo("AS", 64)
    assert SDPConnection("192.0.2.1") != SDPAttribute("x")
    assert SDPAttribute("x") != "a=x"
    mutable.media[0].port = 0
    assert frozen != mutable


def test_conversion_both_ways_is_deep_so_that_the_copies_are_independent():
    original = session()
    frozen = FrozenSDPSession.new(original)
    thawed = SDPSession.new(frozen)
    assert thawed == original and thawed is not original
    assert type(thawed.media[0]) is SDPMediaStream and type(thawed.attributes) is SDPAttributeList
    thawed.media[0].port = 1
    thawed.media[0].attributes.append(SDPAttribute("ptime", "20"))
    assert original.media[0].port == 49170 and "ptime" not in original.media[0].attributes
    copied = SDPSession.new(original)
    copied.media[0].formats.append("8")
    assert original.media[0].formats == ["0", "101"]
    assert FrozenSDPSession.new(frozen) is frozen
    with pytest.raises(TypeError):
        FrozenSDPSession.new(original.media[0])


def test_copy_deepcopy_and_pickle_keep_the_value_and_frozen_copies_are_the_same_object():
    original = session()
    frozen = FrozenSDPSession.new(original)
    assert copy.copy(frozen) is frozen and copy.deepcopy(frozen) is frozen
    for value in (original, frozen, original.media[0], frozen.connection):
        assert pickle.loads(pickle.dumps(value)) == value
        assert type(pickle.loads(pickle.dumps(value))) is type(value)
    duplicate = copy.deepcopy(original)
    duplicate.media[0].port = 2
    assert original.media[0].port == 49170
    assert original.copy() == original


def test_replace_changes_only_the_named_fields_and_checks_them():
    frozen = FrozenSDPSession.new(session())
    changed = frozen.replace(version=2, media=[audio(port=0)])
    assert (changed.version, changed.media[0].port, changed.id) == (2, 0, frozen.id)
    assert isinstance(changed.media[0], FrozenSDPMediaStream)
    with pytest.raises(ValueError):
        frozen.replace(version=-1)
    with pytest.raises(TypeError, match="no field"):
        frozen.replace(colour="red")
    with pytest.raises(ValueError):
        frozen.replace(address="2001:db8::1")
    mutable = session().replace(name="call")
    assert mutable.name == "call" and type(mutable) is SDPSession


def test_direction_property_reads_and_replaces_the_media_level_direction_attributes():
    media = audio()
    assert media.direction is None
    media.direction = "sendonly"
    assert media.direction is Direction.SENDONLY and media.direction == "sendonly"
    media.attributes.append(SDPAttribute("recvonly"))
    media.direction = Direction.INACTIVE
    assert media.attributes.getall("inactive") == [""] and "sendonly" not in media.attributes
    assert "recvonly" not in media.attributes
    media.direction = None
    assert media.direction is None
    with pytest.raises(ValueError):
        media.direction = "sideways"


def test_session_direction_of_takes_the_session_level_attribute_and_the_sendrecv_default():
    made = session(media=[audio(), audio(port=49172)])
    assert made.direction_of(0) is Direction.SENDRECV
    made.attributes.append(SDPAttribute("recvonly"))
    made.media[1].direction = "inactive"
    assert made.direction_of(0) is Direction.RECVONLY
    assert made.direction_of(1) is Direction.INACTIVE


def test_an_address_of_0_0_0_0_means_send_me_nothing_rfc_3264_section_8_4():
    made = session(connection=SDPConnection("0.0.0.0"), media=[audio(), audio(port=2, attributes=[])])
    made.media[1].connection = SDPConnection("192.0.2.9")
    assert made.effective_direction_of(0) is Direction.SENDONLY
    assert made.effective_direction_of(1) is Direction.SENDRECV
    made.media[0].direction = "recvonly"
    assert made.effective_direction_of(0) is Direction.INACTIVE
    assert made.connection_of(1).address == "192.0.2.9"


def test_direction_algebra_mirrors_and_intersects():
    assert Direction.SENDONLY.mirror() is Direction.RECVONLY
    assert Direction.RECVONLY.mirror() is Direction.SENDONLY
    assert Direction.SENDRECV.mirror() is Direction.SENDRECV
    assert Direction.INACTIVE.mirror() is Direction.INACTIVE
    assert Direction.SENDRECV & Direction.SENDONLY is Direction.SENDONLY
    assert Direction.SENDONLY & Direction.RECVONLY is Direction.INACTIVE
    assert Direction.SENDRECV.sends and Direction.SENDRECV.receives
    assert not Direction.INACTIVE.sends and not Direction.INACTIVE.receives
    assert Direction.SENDRECV.__and__("sendonly") is NotImplemented  # type: ignore[operator]


def test_media_helpers_say_what_the_media_layer_asks():
    media = audio()
    assert media.is_rtp and not media.is_rejected and not media.has_srtp
    assert not media.has_ice_attributes and not media.has_ice_candidates
    media.attributes += [SDPAttribute("ice-ufrag", "8hhY"), SDPAttribute("ice-pwd", "asd88fgpdd777uzjYhagZg")]
    media.attributes.append(
        SDPAttribute("crypto", "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9")
    )
    media.attributes.append(SDPAttribute("candidate", "1 1 UDP 2130706431 192.0.2.1 8998 typ host"))
    assert media.has_ice_attributes and media.has_ice_candidates and media.has_srtp
    assert [codec.name for codec in media.codec_list()] == ["PCMU", "telephone-event"]
    assert media.codec_info(101).clock_rate == 8000
    assert not SDPMediaStream("message", 2855, "TCP/TLS/MSRP", formats=["*"]).is_rtp
    assert SDPMediaStream("audio", 0, "RTP/AVP", formats=["0"]).is_rejected


def test_session_has_ice_attributes_at_session_level_or_in_every_enabled_stream():
    made = session(media=[audio(), audio(port=0)])
    assert not made.has_ice_attributes
    made.media[0].attributes += [SDPAttribute("ice-ufrag", "abcd"), SDPAttribute("ice-pwd", "x" * 22)]
    assert made.has_ice_attributes
    assert not session(media=[]).has_ice_attributes
    made = session(attributes=[SDPAttribute("ice-ufrag", "abcd"), SDPAttribute("ice-pwd", "x" * 22)])
    assert made.has_ice_attributes


def test_attribute_lists_look_up_by_name_and_convert_their_items_per_flavour():
    attributes = SDPAttributeList(
        [SDPAttribute("rtpmap", "0 PCMU/8000"), FrozenSDPAttribute("rtpmap", "8 PCMA/8000")]
    )
    assert all(type(item) is SDPAttribute for item in attributes)
    assert attributes.getall("rtpmap") == ["0 PCMU/8000", "8 PCMA/8000"]
    assert attributes.getfirst("rtpmap") == "0 PCMU/8000"
    assert attributes.getfirst("ptime") is None and attributes.getfirst("ptime", "20") == "20"
    assert "rtpmap" in attributes and "ptime" not in attributes
    assert SDPAttribute("rtpmap", "8 PCMA/8000") in attributes
    attributes.insert(0, FrozenSDPAttribute("sendonly"))
    attributes[1] = FrozenSDPAttribute("ptime", "20")
    attributes[2:] = [FrozenSDPAttribute("x", "1")]
    attributes.extend([FrozenSDPAttribute("y")])
    assert [type(item) for item in attributes] == [SDPAttribute] * 4
    assert [str(item) for item in attributes] == ["a=sendonly", "a=ptime:20", "a=x:1", "a=y"]
    attributes.remove_all("x")
    assert attributes.getall("x") == []
    with pytest.raises(TypeError):
        attributes.append("a=z")  # type: ignore[arg-type]
    frozen = FrozenSDPAttributeList(attributes)
    assert frozen == attributes and attributes == frozen and attributes == tuple(frozen)
    assert (frozen != attributes, attributes != frozen) == (False, False)  # != is not list's
    assert frozen != attributes[:1] and attributes[:1] != frozen
    assert FrozenSDPAttributeList(frozen) is frozen
    assert hash(frozen) == hash(FrozenSDPAttributeList(list(attributes)))
    assert frozen.getfirst("ptime") == "20" and frozen.parsed("ptime") == [20]
    assert "FrozenSDPAttributeList" in repr(frozen) and "SDPAttributeList" in repr(attributes)
    assert attributes.__eq__(1) is NotImplemented and frozen.__eq__(1) is NotImplemented
    with pytest.raises(TypeError):
        FrozenSDPAttributeList(["a=x"])


def test_repr_names_the_class_and_the_fields():
    assert (
        repr(SDPConnection("192.0.2.1"))
        == "SDPConnection(address='192.0.2.1', net_type='IN', address_type='IP4')"
    )
    assert repr(FrozenSDPAttribute("ptime", "20")).startswith("FrozenSDPAttribute(name='ptime'")


def test_str_of_a_bandwidth_line_and_a_connection_is_the_line():
    assert str(FrozenSDPBandwidthInfo("AS", 64)) == "b=AS:64"
    assert str(FrozenSDPConnection("2001:db8::1", address_type="IP6")) == "c=IN IP6 2001:db8::1"


def test_str_of_a_media_stream_is_its_lines():
    media = audio(
        connection=SDPConnection("192.0.2.7"), info="voice", bandwidth_info=[SDPBandwidthInfo("AS", 64)]
    )
    media.port_count = 2
    assert str(media) == (
        "m=audio 49170/2 RTP/AVP 0 101\r\ni=voice\r\nc=IN IP4 192.0.2.7\r\nb=AS:64\r\n"
        "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    )


def test_the_reference_core_names_are_importable_from_sipsimple_core():
    import sipsimple.core as core

    for name in (
        "SDPSession",
        "FrozenSDPSession",
        "SDPMediaStream",
        "FrozenSDPMediaStream",
        "SDPConnection",
        "FrozenSDPConnection",
        "SDPAttribute",
        "FrozenSDPAttribute",
        "SDPAttributeList",
        "FrozenSDPAttributeList",
        "SDPBandwidthInfo",
        "FrozenSDPBandwidthInfo",
        "SDPNegotiator",
    ):
        assert name in core.__all__
        assert getattr(core, name).__name__ == name
