"""Tests for sipsimple.configuration.datatypes: the serialisation contract of every datatype.

The contract: ``str(v)`` is canonical and ``T(str(v)) == v`` (lists: ``T([str(i) for i in v]) == v``),
``T(T(x)) == T(x)``, values are immutable and hashable, and bad input raises ValueError naming it.
"""

from __future__ import annotations

import copy
import os
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sipsimple.configuration.datatypes as datatypes
from sipsimple.configuration.datatypes import (
    AudioCodec,
    AudioCodecList,
    AudioInputDevice,
    AudioOutputDevice,
    Choice,
    ContentType,
    ContentTypeList,
    CountryCode,
    Domain,
    DomainList,
    Hostname,
    HostnameList,
    IPAddress,
    List,
    MSRPConnectionModel,
    MSRPRelayAddress,
    MSRPTransport,
    NonNegativeInteger,
    Path,
    Port,
    PortRange,
    PositiveInteger,
    SampleRate,
    SIPAddress,
    SIPProxyAddress,
    SIPTransport,
    SIPTransportList,
    SRTPCryptoSuite,
    SRTPCryptoSuiteList,
    SRTPKeyNegotiation,
    STUNServerAddress,
    STUNServerAddressList,
    XCAPRoot,
)

# (datatype, accepted input, canonical string form)
CANONICAL: list[tuple[type, Any, str]] = [
    (NonNegativeInteger, 0, "0"),
    (NonNegativeInteger, " 42 ", "42"),
    (PositiveInteger, "1", "1"),
    (Port, 0, "0"),
    (Port, "65535", "65535"),
    (PortRange, "50000:50500", "50000:50500"),
    (PortRange, " 50000 - 50500 ", "50000:50500"),
    (PortRange, (2, 3), "2:3"),
    (Hostname, "Proxy.Example.COM.", "proxy.example.com"),
    (Hostname, "localhost", "localhost"),
    (Hostname, "192.0.2.1", "192.0.2.1"),
    (Hostname, "[2001:DB8:0::1]", "2001:db8::1"),
    (Domain, "Example.org", "example.org"),
    (IPAddress, "2001:0db8::0001", "2001:db8::1"),
    (IPAddress, "10.0.0.1", "10.0.0.1"),
    (Path, "~/.sipclient/logs", "~/.sipclient/logs"),
    (ContentType, "Text/Plain", "text/plain"),
    (ContentType, "message/*", "message/*"),
    (ContentType, "*/*", "*/*"),
    (ContentType, "application/im-iscomposing+xml", "application/im-iscomposing+xml"),
    (CountryCode, "+358", "358"),
    (CountryCode, 1, "1"),
    (SIPAddress, "sip:alice@example.com", "alice@example.com"),
    (SIPAddress, "SIPS:Bob.Smith@Example.COM", "Bob.Smith@example.com"),
    (SIPAddress, "bonjour@local", "bonjour@local"),
    (SIPAddress, "+31-20_x.y%40z@192.0.2.7", "+31-20_x.y%40z@192.0.2.7"),
    (SIPAddress, "alice@2001:db8::1", "alice@[2001:db8::1]"),
    (SIPTransport, "TLS", "tls"),
    (MSRPTransport, " tcp ", "tcp"),
    (MSRPConnectionModel, "ACM", "acm"),
    (SRTPKeyNegotiation, "SDES_Mandatory", "sdes_mandatory"),
    (SRTPCryptoSuite, "aead_aes_256_gcm", "AEAD_AES_256_GCM"),
    (SIPProxyAddress, "proxy.example.com", "proxy.example.com;transport=udp"),
    (SIPProxyAddress, "sip:Proxy.Example.com:5070;transport=TCP", "proxy.example.com:5070;transport=tcp"),
    (SIPProxyAddress, "sips:proxy.example.com", "proxy.example.com;transport=tls"),
    (SIPProxyAddress, "sip:proxy.example.com;lr", "proxy.example.com;transport=udp"),
    (SIPProxyAddress, "[2001:db8::1]:5061;transport=tls", "[2001:db8::1]:5061;transport=tls"),
    (STUNServerAddress, "stun.example.com", "stun.example.com:3478"),
    (STUNServerAddress, "stun:stun.example.com:19302", "stun.example.com:19302"),
    (STUNServerAddress, "[::1]", "[::1]:3478"),
    (MSRPRelayAddress, "relay.example.com", "relay.example.com:2855;transport=tls"),
    (MSRPRelayAddress, "relay.example.com:2856;transport=TCP", "relay.example.com:2856;transport=tcp"),
    (XCAPRoot, "HTTPS://XCAP.Example.com:443/xcap-root/", "https://xcap.example.com/xcap-root"),
    (XCAPRoot, "http://[2001:db8::1]:8080/", "http://[2001:db8::1]:8080"),
    (XCAPRoot, "http://xcap.example.com/a%20b/c", "http://xcap.example.com/a%20b/c"),
    (AudioCodec, "g722", "G722"),
    (SampleRate, "44100", "44100"),
    (AudioInputDevice, "system_default", "system_default"),
    (AudioOutputDevice, "Built-in Output (Ümlaut)", "Built-in Output (Ümlaut)"),
    (SIPTransportList, ["TLS", "tcp"], "tls, tcp"),
    (SIPTransportList, "udp,tls", "udp, tls"),
    (SIPTransportList, [], ""),
    (HostnameList, ("A.example.com", "192.0.2.1"), "a.example.com, 192.0.2.1"),
    (DomainList, "example.com, example.org", "example.com, example.org"),
    (ContentTypeList, ["text/plain", "TEXT/*"], "text/plain, text/*"),
    (STUNServerAddressList, ["stun1.example.com", "[::1]:3479"], "stun1.example.com:3478, [::1]:3479"),
    (SRTPCryptoSuiteList, ["aes_cm_128_hmac_sha1_80"], "AES_CM_128_HMAC_SHA1_80"),
    (AudioCodecList, "OPUS, g722, pcmu, pcma, gsm, SPEEX", "opus, G722, PCMU, PCMA, GSM, speex"),
]

CANONICAL_IDS = [f"{t.__name__}-{value!r}" for t, value, _ in CANONICAL]

# (datatype, bad input, fragment the error message must contain)
BAD: list[tuple[type, Any, str]] = [
    (NonNegativeInteger, "-1", "'-1'"),
    (NonNegativeInteger, 1.5, "1.5"),
    (NonNegativeInteger, True, "True"),
    (NonNegativeInteger, None, "None"),
    (PositiveInteger, 0, "must be an integer >= 1"),
    (Port, 70000, "invalid port 70000: must be an integer in 0..65535"),
    (Port, "http", "'http'"),
    (Port, "", "''"),
    (PortRange, "50001:50500", "even"),
    (PortRange, "50500:50000", "lower"),
    (PortRange, "0:100", "1..65535"),
    (PortRange, "2:70000", "'2:70000'"),
    (PortRange, "50000", "'50000'"),
    (Hostname, "", "must not be empty"),
    (Hostname, "under_score.example.com", "'under_score.example.com'"),
    (Hostname, "-leading.example.com", "'-leading.example.com'"),
    (Hostname, "a..b", "'a..b'"),
    (Hostname, "x" * 64 + ".com", "x" * 64),
    (Hostname, "256.1.1.1", "not a valid IPv4 address"),
    (Hostname, "01.2.3.4", "'01.2.3.4'"),
    (Hostname, "[example.com]", "not a valid IPv6 address"),
    (Hostname, "bücher.de", "xn--"),
    (Hostname, 42, "42"),
    (Domain, "192.0.2.1", "IP addresses are not allowed"),
    (IPAddress, "example.com", "must be an IP address"),
    (IPAddress, "1.2.3", "'1.2.3'"),
    (Path, "", "must not be empty"),
    (Path, "a\0b", "NUL"),
    (Path, 5, "must be a string"),
    (ContentType, "text", "'text'"),
    (ContentType, None, "must be a string"),
    (ContentType, "*/plain", "'*/plain'"),
    (ContentType, "text/plain; charset=utf-8", "parameters are not allowed"),
    (ContentType, "te xt/plain", "'te xt/plain'"),
    (CountryCode, "0", "'0'"),
    (CountryCode, "1234", "'1234'"),
    (CountryCode, "+", "'+'"),
    (CountryCode, 31.0, "31.0"),
    (SIPAddress, "", "user@domain"),
    (SIPAddress, None, "must be a string"),
    (SIPAddress, "example.com", "'example.com'"),
    (SIPAddress, "@example.com", "user part"),
    (SIPAddress, "alice@", "domain ''"),
    (SIPAddress, "al ice@example.com", "'al ice'"),
    (SIPAddress, "alice:secret@example.com", "'alice:secret'"),
    (SIPAddress, "alice@example.com:5060", "a port is not allowed"),
    (SIPAddress, "alice@exa_mple.com", "'exa_mple.com'"),
    (SIPAddress, "alice@example.com;transport=tcp", "'example.com;transport=tcp'"),
    (SIPTransport, "sctp", "invalid SIP transport 'sctp': must be one of udp, tcp, tls"),
    (SIPTransport, "", "''"),
    (SIPTransport, None, "None"),
    (MSRPTransport, "udp", "'udp'"),
    (MSRPConnectionModel, "direct", "'direct'"),
    (SRTPKeyNegotiation, "zrtp", "'zrtp'"),
    (SRTPCryptoSuite, "AES_CM_256_HMAC_SHA1_80", "'AES_CM_256_HMAC_SHA1_80'"),
    (SIPProxyAddress, "", "must not be empty"),
    (SIPProxyAddress, "proxy.example.com:70000", "'70000'"),
    (SIPProxyAddress, "proxy.example.com:0", "'0'"),
    (SIPProxyAddress, "proxy.example.com:sip", "'sip'"),
    (SIPProxyAddress, "proxy.example.com:+5060", "'+5060'"),
    (SIPProxyAddress, "2001:db8::1:5060", "brackets"),
    (SIPProxyAddress, "[2001:db8::1", "']' missing"),
    (SIPProxyAddress, "[2001:db8::1]5060", "'5060'"),
    (SIPProxyAddress, "proxy.example.com;transport=sctp", "'sctp'"),
    (SIPProxyAddress, "proxy.example.com;maddr=1.2.3.4", "'maddr=1.2.3.4'"),
    (SIPProxyAddress, "proxy.example.com;transport=tcp;transport=tls", "given twice"),
    (SIPProxyAddress, "sips:proxy.example.com;transport=udp", "implies transport=tls"),
    (SIPProxyAddress, "sip:alice@proxy.example.com", "user part"),
    (SIPProxyAddress, 5060, "5060"),
    (STUNServerAddress, "stun.example.com;transport=udp", "unsupported parameter"),
    (STUNServerAddress, "stun.example.com:99999", "'99999'"),
    (STUNServerAddress, "::1:3478", "brackets"),
    (MSRPRelayAddress, "relay.example.com;transport=udp", "'udp'"),
    (XCAPRoot, "", "http:// or https://"),
    (XCAPRoot, None, "must be a string"),
    (XCAPRoot, "xcap.example.com/xcap-root", "http:// or https://"),
    (XCAPRoot, "ftp://xcap.example.com/", "'ftp://xcap.example.com/'"),
    (XCAPRoot, "https://xcap.example.com/root?x=1", "query"),
    (XCAPRoot, "https://xcap.example.com/root#frag", "fragment"),
    (XCAPRoot, "https://alice:pw@xcap.example.com/", "credentials"),
    (XCAPRoot, "https:///root", "host ''"),
    (XCAPRoot, "https://xcap.example.com:0/", "'0'"),
    (XCAPRoot, "https://xcap.example.com/a b", "'/a b'"),
    (XCAPRoot, "https://xcap.example.com/%zz", "'/%zz'"),
    (AudioCodec, "AMR", "'AMR'"),
    (SampleRate, 22050, "invalid sample rate 22050: must be one of 8000, 16000, 32000, 44100, 48000"),
    (SampleRate, "48 kHz", "'48 kHz'"),
    (AudioInputDevice, "", "use None for no device"),
    (AudioInputDevice, "   ", "'   '"),
    (AudioOutputDevice, "line\nbreak", "control characters"),
    (AudioOutputDevice, None, "None"),
    (SIPTransportList, ["udp", "sctp"], "'sctp'"),
    (SIPTransportList, ["udp", "UDP"], "'udp' appears more than once"),
    (SIPTransportList, "udp,,tls", "''"),
    (SIPTransportList, 5, "5"),
    (SIPTransportList, b"udp", "b'udp'"),
    (SIPTransportList, {"udp": 1}, "must be a list"),
    (HostnameList, ["a.example.com", "A.EXAMPLE.COM"], "'a.example.com' appears more than once"),
    (DomainList, ["example.com", "192.0.2.1"], "'192.0.2.1'"),
    (ContentTypeList, ["text/plain", "text"], "'text'"),
    (STUNServerAddressList, ["stun.example.com", "stun.example.com:3478"], "appears more than once"),
    (SRTPCryptoSuiteList, ["AEAD_AES_128_GCM", "aead_aes_128_gcm"], "appears more than once"),
    (AudioCodecList, ["opus", "iLBC"], "'iLBC'"),
    (AudioCodecList, "opus, OPUS", "'opus' appears more than once"),
]

BAD_IDS = [f"{t.__name__}-{value!r}" for t, value, _ in BAD]

ALL_TYPES = sorted({t for t, _, _ in CANONICAL}, key=lambda t: t.__name__)


def state(value: Any) -> Any:
    """What the configuration layer stores for a value."""
    return [str(item) for item in value] if isinstance(value, List) else str(value)


# -- the contract, type by type ---------------------------------------------------------------


@pytest.mark.parametrize(("datatype", "given", "canonical"), CANONICAL, ids=CANONICAL_IDS)
def test_accepted_input_has_the_documented_canonical_form_and_round_trips(
    datatype: type, given: Any, canonical: str
) -> None:
    value = datatype(given)
    assert str(value) == canonical
    assert datatype(str(value)) == value
    assert datatype(state(value)) == value
    assert datatype(value) == value
    assert str(datatype(canonical)) == canonical


@pytest.mark.parametrize(("datatype", "given", "fragment"), BAD, ids=BAD_IDS)
def test_bad_input_raises_value_error_naming_the_problem(datatype: type, given: Any, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        datatype(given)
    message = str(info.value)
    assert message.startswith("invalid ")
    assert fragment in message


def test_every_exported_datatype_has_a_round_trip_case() -> None:
    """No public datatype escapes the round-trip table above."""
    exported = {getattr(datatypes, name) for name in datatypes.__all__}
    bases = {Choice, List, datatypes.BoundedInteger}
    assert exported - bases == set(ALL_TYPES)


@pytest.mark.parametrize(("datatype", "given", "canonical"), CANONICAL, ids=CANONICAL_IDS)
def test_values_are_hashable_picklable_and_copyable(datatype: type, given: Any, canonical: str) -> None:
    value = datatype(given)
    assert hash(value) == hash(datatype(canonical))
    assert len({value, datatype(canonical)}) == 1
    for clone in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
        assert clone == value
        assert type(clone) is datatype


@pytest.mark.parametrize(("datatype", "given", "canonical"), CANONICAL, ids=CANONICAL_IDS)
def test_repr_names_the_type_and_evaluates_back_to_the_value(
    datatype: type, given: Any, canonical: str
) -> None:
    value = datatype(given)
    text = repr(value)
    assert text.startswith(f"{datatype.__name__}(")
    assert eval(text, vars(datatypes)) == value


@pytest.mark.parametrize("datatype", ALL_TYPES, ids=lambda t: t.__name__)
def test_values_reject_new_attributes(datatype: type) -> None:
    """Values are shared between settings objects, so nothing may be attached to or changed in them."""
    value = datatype(next(given for t, given, _ in CANONICAL if t is datatype))
    with pytest.raises(AttributeError):
        value.extra = 1
    assert not hasattr(value, "extra")


# -- particular behaviour ---------------------------------------------------------------------


def test_integer_datatypes_print_as_plain_digits_although_their_repr_names_the_type() -> None:
    port = Port(5060)
    assert repr(port) == "Port(5060)"
    assert str(port) == "5060"
    assert f"{port}" == "5060"
    assert f"{port:>6}" == "  5060"
    assert port + 1 == 5061


def test_rebuilding_from_a_value_of_the_same_type_returns_it_unchanged() -> None:
    for value in (SIPTransport("udp"), Port(1), Hostname("example.com"), SIPTransportList(["tls"])):
        assert type(value)(value) is value


def test_frozen_values_refuse_changes_to_their_parts() -> None:
    proxy = SIPProxyAddress("proxy.example.com", port=5061, transport="tls")
    with pytest.raises(AttributeError, match="immutable"):
        proxy.port = 5062
    with pytest.raises(AttributeError, match="immutable"):
        del proxy.transport
    ports = PortRange(50000, 50500)
    with pytest.raises(AttributeError, match="immutable"):
        ports.start = 40000
    assert (proxy.port, ports.start) == (5061, 50000)


def test_values_of_different_address_types_are_never_equal() -> None:
    stun = STUNServerAddress("relay.example.com", port=2855)
    relay = MSRPRelayAddress("relay.example.com", port=2855, transport="tls")
    assert stun != relay
    assert relay != "relay.example.com:2855;transport=tls"


def test_sip_address_exposes_username_and_domain() -> None:
    address = SIPAddress("sip:alice@example.com")
    assert address.username == "alice"
    assert address.domain == "example.com"
    assert address == "alice@example.com"


def test_sip_address_keeps_ipv6_domains_bracketed_in_the_string_but_bare_in_domain() -> None:
    address = SIPAddress("sips:Alice@[2001:DB8:0:0::7]")
    assert str(address) == "Alice@[2001:db8::7]"
    assert address.username == "Alice"
    assert address.domain == "2001:db8::7"


def test_sip_proxy_address_leaves_the_port_unset_so_dns_can_choose_it() -> None:
    proxy = SIPProxyAddress("proxy.example.com;transport=tcp")
    assert (proxy.host, proxy.port, proxy.transport) == ("proxy.example.com", None, "tcp")
    assert repr(proxy) == "SIPProxyAddress('proxy.example.com', transport='tcp')"


def test_address_types_can_be_built_from_parts_with_a_bare_ipv6_host() -> None:
    proxy = SIPProxyAddress("2001:db8::1", port="5061", transport="TLS")
    assert str(proxy) == "[2001:db8::1]:5061;transport=tls"
    assert repr(proxy) == "SIPProxyAddress('2001:db8::1', port=5061, transport='tls')"
    assert STUNServerAddress("stun.example.com", port=3479) == STUNServerAddress("stun.example.com:3479")
    relay = MSRPRelayAddress("relay.example.com", transport="tcp")
    assert (relay.port, relay.transport) == (2855, "tcp")


def test_parts_given_separately_are_validated_too() -> None:
    with pytest.raises(ValueError, match="'sctp'"):
        SIPProxyAddress("proxy.example.com", transport="sctp")
    with pytest.raises(ValueError, match="port 0"):
        STUNServerAddress("stun.example.com", port=0)
    with pytest.raises(ValueError, match=r"host 'proxy.example.com:5060'"):
        SIPProxyAddress("proxy.example.com:5060", port=5060)
    with pytest.raises(
        ValueError, match=r"invalid STUN server address \(None, 3478, None\): the host must be"
    ):
        STUNServerAddress(None, port=3478)


def test_a_host_called_like_a_uri_scheme_can_still_carry_a_port() -> None:
    """``sip:5060`` has no address after the scheme, so it is the host ``sip`` on port 5060."""
    proxy = SIPProxyAddress("sip:5060")
    assert (proxy.host, proxy.port) == ("sip", 5060)
    assert SIPProxyAddress(str(proxy)) == proxy


def test_xcap_root_exposes_scheme_host_effective_port_and_path() -> None:
    root = XCAPRoot("https://xcap.example.com/xcap-root/")
    assert (root.scheme, root.host, root.port, root.path) == ("https", "xcap.example.com", 443, "/xcap-root")
    other = XCAPRoot("http://[2001:db8::1]:8080")
    assert (other.scheme, other.host, other.port, other.path) == ("http", "2001:db8::1", 8080, "")


def test_ip_address_reports_its_version() -> None:
    assert IPAddress("192.0.2.1").version == 4
    assert IPAddress("::1").version == 6


def test_content_type_exposes_its_two_parts() -> None:
    kind = ContentType("Message/CPIM")
    assert (kind.maintype, kind.subtype) == ("message", "cpim")


def test_port_range_exposes_its_ends() -> None:
    ports = PortRange("50000:50500")
    assert (ports.start, ports.end) == (50000, 50500)
    assert PortRange(ports) == ports == PortRange(50000, "50500")


def test_path_normalized_expands_home_and_variables_into_an_absolute_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SIPSIMPLE_TEST_DIR", "logs")
    path = Path("~/$SIPSIMPLE_TEST_DIR/trace.txt")
    assert str(path) == "~/$SIPSIMPLE_TEST_DIR/trace.txt"
    assert path.normalized == os.path.join(str(tmp_path), "logs", "trace.txt")
    monkeypatch.chdir(tmp_path)
    assert Path("relative").normalized == os.path.join(str(tmp_path), "relative")


def test_path_accepts_path_like_objects(tmp_path: Any) -> None:
    assert Path(tmp_path) == str(tmp_path)


def test_audio_devices_mark_the_system_default_and_keep_names_verbatim() -> None:
    assert AudioInputDevice("system_default").is_system_default
    device = AudioOutputDevice("  USB Headset ")
    assert str(device) == "  USB Headset "
    assert not device.is_system_default


def test_lists_are_tuples_whose_items_have_the_item_type() -> None:
    codecs = AudioCodecList(["pcmu", "opus"])
    assert isinstance(codecs, tuple)
    assert [type(item) for item in codecs] == [AudioCodec, AudioCodec]
    assert codecs == ("PCMU", "opus")
    assert state(codecs) == ["PCMU", "opus"]


def test_a_plain_list_holds_strings_and_a_subclass_can_allow_duplicates() -> None:
    class Words(List):
        unique = False
        label = "word list"

    assert Words(["a", "a"]) == ("a", "a")
    assert List(" a , b ") == ("a", "b")
    with pytest.raises(ValueError, match="'a' appears more than once"):
        List(["a", "a"])


def test_choice_subclasses_need_only_their_values() -> None:
    class Colour(Choice):
        label = "colour"
        values = ("Red", "green")

    assert Colour("RED") == "Red"
    assert repr(Colour("GREEN")) == "Colour('green')"
    with pytest.raises(ValueError, match="invalid colour 'blue': must be one of Red, green"):
        Colour("blue")


# -- properties -------------------------------------------------------------------------------

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
tld = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
hostnames = st.builds(lambda labels, last: ".".join([*labels, last]), st.lists(label, max_size=3), tld)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
hosts = st.one_of(hostnames, ipv4, ipv6)
server_ports = st.integers(min_value=1, max_value=65535)


def mixed_case(text: str, data: st.DataObject) -> str:
    flags = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flag else c for c, flag in zip(text, flags, strict=True))


def bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@given(host=hosts, port=st.none() | server_ports, transport=st.sampled_from(["udp", "tcp", "tls"]))
def test_sip_proxy_addresses_built_from_any_parts_round_trip(
    host: str, port: int | None, transport: str
) -> None:
    proxy = SIPProxyAddress(host, port=port, transport=transport)
    assert SIPProxyAddress(str(proxy)) == proxy
    assert (proxy.port, proxy.transport) == (port, transport)
    assert Hostname(proxy.host) == Hostname(host)


@given(
    data=st.data(),
    host=hosts,
    port=st.none() | server_ports,
    transport=st.sampled_from(["udp", "tcp", "tls"]),
)
def test_sip_proxy_strings_in_any_case_parse_to_their_parts(
    data: st.DataObject, host: str, port: int | None, transport: str
) -> None:
    text = bracket(host) + ("" if port is None else f":{port}") + f";transport={transport}"
    proxy = SIPProxyAddress(mixed_case(text, data))
    assert (proxy.host, proxy.port, proxy.transport) == (str(Hostname(host)), port, transport)
    assert str(proxy) == str(SIPProxyAddress(text))


@given(host=hosts, port=st.none() | server_ports)
def test_stun_server_addresses_round_trip(host: str, port: int | None) -> None:
    text = bracket(host) + ("" if port is None else f":{port}")
    address = STUNServerAddress(text)
    assert address.port == (3478 if port is None else port)
    assert STUNServerAddress(str(address)) == address


@given(host=hosts, port=server_ports, transport=st.sampled_from(["tls", "tcp"]))
def test_msrp_relay_addresses_round_trip(host: str, port: int, transport: str) -> None:
    relay = MSRPRelayAddress(host, port=port, transport=transport)
    assert str(relay) == f"{bracket(str(Hostname(host)))}:{port};transport={transport}"
    assert MSRPRelayAddress(str(relay)) == relay


@given(user=st.from_regex(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/]{1,12}", fullmatch=True), host=hosts)
def test_sip_addresses_round_trip_and_split_into_username_and_domain(user: str, host: str) -> None:
    address = SIPAddress(f"sip:{user}@{bracket(host)}")
    assert SIPAddress(str(address)) == address
    assert address.username == user
    assert address.domain == str(Hostname(host))


@given(
    host=hosts, port=st.none() | server_ports, path=st.from_regex(r"(/[a-z0-9-]{1,8}){0,3}", fullmatch=True)
)
def test_xcap_roots_round_trip(host: str, port: int | None, path: str) -> None:
    root = XCAPRoot(f"https://{bracket(host)}{'' if port is None else f':{port}'}{path}/")
    assert XCAPRoot(str(root)) == root
    assert (root.path, root.host) == (path, str(Hostname(host)))
    assert root.port == (443 if port is None else port)


@given(st.lists(st.sampled_from(AudioCodec.values), unique=True))
def test_codec_lists_keep_their_order_through_the_stored_state(codecs: list[str]) -> None:
    value = AudioCodecList(codecs)
    assert list(value) == codecs
    assert AudioCodecList(state(value)) == value
    assert AudioCodecList(str(value)) == value


@given(st.lists(st.one_of(hosts.map(bracket), st.tuples(hosts, server_ports)), min_size=1, max_size=5))
def test_stun_server_lists_round_trip_or_report_a_duplicate(items: list[Any]) -> None:
    texts = [f"{bracket(item[0])}:{item[1]}" if isinstance(item, tuple) else item for item in items]
    addresses = [STUNServerAddress(text) for text in texts]
    if len(set(addresses)) < len(addresses):
        with pytest.raises(ValueError, match="appears more than once"):
            STUNServerAddressList(texts)
    else:
        value = STUNServerAddressList(texts)
        assert STUNServerAddressList(state(value)) == value
        assert STUNServerAddressList(str(value)) == value
        assert list(value) == addresses


@given(st.lists(hosts, max_size=6))
def test_hostname_lists_round_trip_or_report_a_duplicate(hosts_: list[str]) -> None:
    canonical = [str(Hostname(host)) for host in hosts_]
    if len(set(canonical)) < len(canonical):
        with pytest.raises(ValueError, match="appears more than once"):
            HostnameList(hosts_)
    else:
        value = HostnameList(hosts_)
        assert list(value) == canonical
        assert HostnameList(state(value)) == value


@pytest.mark.parametrize("datatype", ALL_TYPES, ids=lambda t: t.__name__)
@given(text=st.text(max_size=40))
def test_any_text_is_either_rejected_with_value_error_or_round_trips(datatype: type, text: str) -> None:
    """The only failure a datatype may report is ValueError, and what it accepts is stable."""
    try:
        value = datatype(text)
    except ValueError as exc:
        assert str(exc).startswith("invalid ")
        return
    assert datatype(state(value)) == value
    assert str(datatype(str(value))) == str(value)
