"""Where an AudioStream gets what it was not given: the engine, the mixer and bridge of the
running SIPApplication, the RTP settings and the account's codec and SRTP preferences."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["account_codecs", "account_srtp_mode", "application_audio", "engine_of", "rtp_settings"]


def engine_of(account: Any) -> Any:
    """The engine the account's contact is built on, or the process-wide Engine."""
    engine = getattr(getattr(account, "contact", None), "engine", None)
    if engine is None:
        from sipsimple.core.engine import Engine

        engine = Engine()
    return engine


def application_audio(engine: Any = None) -> tuple[Any, Any]:
    """The voice mixer and voice bridge of the application running on ``engine`` (any
    SIPApplicationBase, not only the singleton), else of the SIPApplication; (None, None) when
    neither has started."""
    from sipsimple.application_audio import running_audio

    audio = None if engine is None else running_audio(engine)
    if audio is not None:
        return audio.voice_audio_mixer, audio.voice_audio_bridge
    from sipsimple.application import SIPApplication

    application = SIPApplication()
    return application.voice_audio_mixer, application.voice_audio_bridge


def rtp_settings() -> tuple[Any, int]:
    """``(port_range, timeout)`` from SIPSimpleSettings.rtp (the configuration must be started)."""
    from sipsimple.configuration.settings import SIPSimpleSettings

    settings = SIPSimpleSettings()
    return settings.rtp.port_range, int(settings.rtp.timeout)


def silence_detection() -> bool:
    """``audio.silence_detection`` from SIPSimpleSettings (False without a configuration)."""
    try:
        from sipsimple.configuration.settings import SIPSimpleSettings

        return bool(getattr(SIPSimpleSettings().audio, "silence_detection", False))
    except Exception:  # no configuration started: the default
        return False


def recordings_directory() -> str:
    """Where a recording without a file name goes: ``audio.recordings_directory`` when the settings
    have it, else the system's temporary directory."""
    import tempfile

    try:
        from sipsimple.configuration.settings import SIPSimpleSettings

        directory = getattr(SIPSimpleSettings().audio, "recordings_directory", None)
    except Exception:  # no configuration: recordings still work, in the temporary directory
        directory = None
    return os.fspath(directory) if directory else tempfile.gettempdir()


def account_codecs(account: Any) -> list[str] | None:
    """``account.rtp.audio_codec_list`` when set (None: the engine's codec list)."""
    codecs = getattr(getattr(account, "rtp", None), "audio_codec_list", None)
    return None if codecs is None else [str(codec) for codec in codecs]


def account_srtp_mode(account: Any) -> str | None:
    """``account.rtp.encryption.key_negotiation`` when encryption is enabled, else None (plain RTP)."""
    encryption = getattr(getattr(account, "rtp", None), "encryption", None)
    if encryption is None or not getattr(encryption, "enabled", False):
        return None
    mode = getattr(encryption, "key_negotiation", None)
    return None if mode is None else str(mode)
