"""The SDK's settings (SIPSimpleSettings, Account, BonjourAccount): every setting round-trips through the
file and memory backends unchanged, and change notifications name exactly the settings that changed."""

from __future__ import annotations

import pytest

from sipsimple.account import Account, BonjourAccount
from sipsimple.configuration import ConfigurationManager, ModifiedValue, RuntimeSetting
from sipsimple.configuration.backend.file import FileBackend
from sipsimple.configuration.backend.memory import MemoryBackend
from sipsimple.configuration.datatypes import (
    AudioCodecList,
    AudioInputDevice,
    AudioOutputDevice,
    ContentTypeList,
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
    SIPTransportList,
    SRTPKeyNegotiation,
    STUNServerAddressList,
    XCAPRoot,
)
from sipsimple.configuration.settings import SIPSimpleSettings

CANDIDATES = {
    bool: [True, False],
    str: ["sample text with ünïcode", "other"],
    Port: [5080, 5090],
    NonNegativeInteger: [7, 8],
    PositiveInteger: [9, 10],
    PortRange: ["40000:40100"],
    SampleRate: [16000, 32000],
    AudioInputDevice: ["USB Microphone"],
    AudioOutputDevice: ["USB Speaker"],
    AudioCodecList: [["PCMU", "opus"]],
    ContentTypeList: [["text/plain"]],
    Path: ["/srv/sample"],
    SIPTransportList: [["udp"], ["tls"]],
    SIPProxyAddress: ["proxy.example.com:5061;transport=tls"],
    SRTPKeyNegotiation: ["sdes_mandatory"],
    STUNServerAddressList: [["stun.example.com:3478", "[2001:db8::1]:3479"]],
    MSRPRelayAddress: ["relay.example.com:2855;transport=tls"],
    SIPAddress: ["voicemail@example.com"],
    MSRPTransport: ["tcp", "tls"],
    MSRPConnectionModel: ["acm", "relay"],
    XCAPRoot: ["https://xcap.example.com/xcap-root"],
}

OBJECTS = [
    pytest.param(lambda: SIPSimpleSettings(), id="SIPSimpleSettings"),
    pytest.param(lambda: Account("alice@example.com"), id="Account"),
    pytest.param(lambda: BonjourAccount(), id="BonjourAccount"),
]


def sample_values(cls):
    """A value different from the default for every setting of ``cls``."""
    values = {}
    for dotted, setting in cls._layout_():
        assert setting.type in CANDIDATES, f"add a sample value for {setting.type.__name__} ({dotted})"
        for candidate in CANDIDATES[setting.type]:
            value = setting.validate(candidate, dotted)
            if value != setting.default:
                values[dotted] = value
                break
    return values


def assign(obj, dotted, value):
    *groups, name = dotted.split(".")
    container = obj
    for group in groups:
        container = getattr(container, group)
    setattr(container, name, value)


def read(obj, dotted):
    value = obj
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def restart(backend):
    manager = ConfigurationManager()
    manager.stop()
    manager.start(backend)


@pytest.fixture(params=["file", "memory"])
def backend(request, tmp_path):
    backend = FileBackend(tmp_path / "config") if request.param == "file" else MemoryBackend()
    restart(backend)
    yield backend
    ConfigurationManager().stop()


@pytest.mark.parametrize("make", OBJECTS)
def test_every_setting_round_trips_through_the_backend_unchanged(make, backend):
    obj = make()
    values = sample_values(type(obj))
    for dotted, value in values.items():
        assign(obj, dotted, value)
    obj.save()
    restart(type(backend)(backend.filename) if isinstance(backend, FileBackend) else backend)
    reloaded = make()
    assert reloaded is not obj
    for dotted, value in values.items():
        setting = dict(type(obj)._layout_())[dotted]
        expected = setting.default if isinstance(setting, RuntimeSetting) else value
        assert read(reloaded, dotted) == expected, dotted
        assert type(read(reloaded, dotted)) is type(expected), dotted


@pytest.mark.parametrize("make", OBJECTS)
def test_change_notification_names_exactly_the_changed_settings(make, backend, recorder):
    obj = make()
    obj.save()
    values = sample_values(type(obj))
    changed = sorted(values)[::3]  # a spread of settings, across groups
    for dotted in changed:
        assign(obj, dotted, values[dotted])
    recorder.clear()
    obj.save()
    [notification] = recorder.named("CFGSettingsObjectDidChange")
    assert sorted(notification.data.modified) == changed
    layout = dict(type(obj)._layout_())
    for dotted in changed:
        assert notification.data.modified[dotted] == ModifiedValue(layout[dotted].default, values[dotted])


def test_reference_setting_names_exist_with_sensible_defaults(memory_configuration):
    settings = SIPSimpleSettings()
    assert list(settings.sip.transport_list) == ["tls", "tcp", "udp"]
    assert settings.rtp.port_range == PortRange(50000, 50500)
    assert settings.audio.input_device == "system_default"
    assert settings.tls.verify_server is True
    account = Account("sip:alice@example.com")
    assert account.id == "alice@example.com" and account.id.username == "alice"
    assert account.sip.subscribe_interval == 3600
    assert account.xcap.xcap_root is None
    assert account.nat_traversal.msrp_relay is None
    assert account.rtp.encryption.key_negotiation == "opportunistic"
    assert BonjourAccount().id == "bonjour@local"


def test_an_account_id_that_is_not_a_sip_address_is_a_value_error(memory_configuration):
    with pytest.raises(ValueError, match="id"):
        Account("not an address")
    with pytest.raises(AttributeError):
        Account("bob@example.com").id = "carol@example.com"


def test_a_malformed_outbound_proxy_is_a_value_error_naming_the_setting(memory_configuration):
    with pytest.raises(ValueError, match=r"sip\.outbound_proxy"):
        Account("bob@example.com").sip.outbound_proxy = "proxy.example.com:99999"
