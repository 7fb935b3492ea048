"""The SDK's global settings: ``SIPSimpleSettings`` (stored under the key ``SIPSimpleSettings``).

Group and setting names are those applications written for the reference SDK use
(``SIPSimpleSettings().sip.transport_list``, ``.rtp.port_range``, ``.audio.input_device``...).
Behaviour behind each setting comes with the layer that uses it.
"""

from __future__ import annotations

import sipsimple
from sipsimple.configuration import RuntimeSetting, Setting, SettingsGroup, SettingsObject
from sipsimple.configuration.datatypes import (
    AudioCodecList,
    AudioInputDevice,
    AudioOutputDevice,
    ContentTypeList,
    NonNegativeInteger,
    Path,
    Port,
    PortRange,
    PositiveInteger,
    SampleRate,
    SIPTransportList,
)

__all__ = ["SIPSimpleSettings"]

SUPPORTED_AUDIO_CODECS = AudioCodecList(["opus", "G722", "speex", "PCMU", "PCMA", "GSM"])


class EchoCancellerSettings(SettingsGroup):
    enabled = Setting(type=bool, default=True)
    tail_length = Setting(type=NonNegativeInteger, default=200)  # milliseconds


class AudioSettings(SettingsGroup):
    """Sound devices and the voice mixer. A device of None means no device; 'system_default' follows the OS."""

    alert_device = Setting(type=AudioOutputDevice, default="system_default", nillable=True)
    input_device = Setting(type=AudioInputDevice, default="system_default", nillable=True)
    output_device = Setting(type=AudioOutputDevice, default="system_default", nillable=True)
    sample_rate = Setting(type=SampleRate, default=48000)
    muted = RuntimeSetting(type=bool, default=False)
    silent = Setting(type=bool, default=False)  # no alert sounds
    # calls send nothing while the microphone is silent (Opus DTX, else RFC 3389 comfort noise)
    silence_detection = Setting(type=bool, default=False)
    echo_canceller = EchoCancellerSettings


class ChatSettings(SettingsGroup):
    accept_types = Setting(
        type=ContentTypeList,
        default=["message/cpim", "text/*", "image/*", "application/im-iscomposing+xml"],
    )
    accept_wrapped_types = Setting(
        type=ContentTypeList, default=["text/*", "image/*", "application/im-iscomposing+xml"]
    )


class FileTransferSettings(SettingsGroup):
    directory = Setting(type=Path, default=None, nillable=True)  # None: the application decides
    chunk_size = Setting(type=PositiveInteger, default=16384)  # bytes per MSRP chunk


class LogsSettings(SettingsGroup):
    directory = Setting(type=Path, default="logs")
    trace_sip = Setting(type=bool, default=False)
    trace_msrp = Setting(type=bool, default=False)
    trace_xcap = Setting(type=bool, default=False)
    trace_notifications = Setting(type=bool, default=False)


class RTPSettings(SettingsGroup):
    port_range = Setting(type=PortRange, default=PortRange(50000, 50500))
    timeout = Setting(type=NonNegativeInteger, default=30)  # seconds without RTP before a timeout; 0: never
    audio_codec_list = Setting(type=AudioCodecList, default=SUPPORTED_AUDIO_CODECS)


class SIPSettings(SettingsGroup):
    invite_timeout = Setting(type=NonNegativeInteger, default=90)  # seconds an outgoing call may ring
    udp_port = Setting(type=Port, default=0)  # 0: any free port
    tcp_port = Setting(type=Port, default=0)
    tls_port = Setting(type=Port, default=0)
    transport_list = Setting(type=SIPTransportList, default=["tls", "tcp", "udp"])


class TLSSettings(SettingsGroup):
    ca_list = Setting(type=Path, default=None, nillable=True)  # None: the system's trusted CAs
    certificate = Setting(type=Path, default=None, nillable=True)  # PEM with our certificate and key
    verify_server = Setting(type=bool, default=True)
    timeout = Setting(type=PositiveInteger, default=3000)  # milliseconds for the TLS handshake


class SIPSimpleSettings(SettingsObject):
    """Settings of the whole SDK (one instance)."""

    __id__ = "SIPSimpleSettings"

    default_account = Setting(type=str, default="bonjour@local", nillable=True)
    user_agent = Setting(type=str, default=f"sipsimple {sipsimple.__version__}")
    instance_id = Setting(type=str, default="")  # RFC 5626 +sip.instance; filled in on first start

    audio = AudioSettings
    chat = ChatSettings
    file_transfer = FileTransferSettings
    logs = LogsSettings
    rtp = RTPSettings
    sip = SIPSettings
    tls = TLSSettings
