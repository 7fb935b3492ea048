"""Build script for sipsimple's C extensions.

Everything declarative lives in pyproject.toml; this file only describes the extension modules.
Each extension is its own compilation unit so that a change recompiles little. C libraries are
found with pkg-config (``pkgconfig()`` below); a library without a .pc file is named explicitly.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from setuptools import Extension, setup


class PkgConfigError(RuntimeError):
    pass


def pkgconfig(*packages: str) -> dict[str, list[str]]:
    """Return Extension keyword arguments for the given pkg-config packages."""
    if not packages:
        return {}
    try:
        cflags = subprocess.run(
            ["pkg-config", "--cflags", *packages], check=True, capture_output=True, text=True
        ).stdout
        libs = subprocess.run(
            ["pkg-config", "--libs", *packages], check=True, capture_output=True, text=True
        ).stdout
    except FileNotFoundError as e:
        raise PkgConfigError("pkg-config is not installed") from e
    except subprocess.CalledProcessError as e:
        raise PkgConfigError(f"pkg-config cannot find {' '.join(packages)}: {e.stderr.strip()}") from e
    result: dict[str, list[str]] = {
        "include_dirs": [],
        "library_dirs": [],
        "libraries": [],
        "extra_compile_args": [],
        "extra_link_args": [],
    }
    for flag in shlex.split(cflags):
        if flag.startswith("-I"):
            result["include_dirs"].append(flag[2:])
        else:
            result["extra_compile_args"].append(flag)
    for flag in shlex.split(libs):
        if flag.startswith("-L"):
            result["library_dirs"].append(flag[2:])
        elif flag.startswith("-l"):
            result["libraries"].append(flag[2:])
        else:
            result["extra_link_args"].append(flag)
    return result


COMMON_CFLAGS = ["-O2", "-Wall", "-Wno-unused-function", "-Wno-unreachable-code"]

# The C codec layer linked into sipsimple.core.media._codecs (sipsimple/core/media/csrc/<name>.c).
MEDIA_CODEC_SOURCES = [
    "codec_registry",
    "codec_batch",
    "codec_g711",
    "codec_g722",
    "g722",
    "g722_multi",
    "codec_gsm",
    "codec_speex",
    "codec_opus",
    "plc",
]


def extension(name: str, sources: list[str], packages: tuple[str, ...] = (), **kwargs) -> Extension:
    options = pkgconfig(*packages)
    for key, value in kwargs.items():
        options.setdefault(key, []).extend(value)
    options.setdefault("extra_compile_args", []).extend(COMMON_CFLAGS)
    for directory in options.get("include_dirs", []):  # a changed header rebuilds what includes it
        options.setdefault("depends", []).extend(
            str(header) for header in sorted(Path(directory).glob("*.h"))
        )
    return Extension(name, sources, **options)


EXTENSIONS = [
    # SIP message scanner: splits start line / headers / body in one pass, stream framing.
    extension("sipsimple.core.sip._scanner", ["sipsimple/core/sip/_scanner.pyx"]),
    # Fast parsers for the frozen Via/From/To/Contact/CSeq/Call-ID values (Python parsers as fallback).
    extension("sipsimple.core.sip._fastparse", ["sipsimple/core/sip/_fastparse.pyx"]),
    # Audio codecs (C, csrc/codec.h): G.711, G.722 and PLC are ours; libgsm has no pkg-config file.
    extension(
        "sipsimple.core.media._codecs",
        ["sipsimple/core/media/_codecs.pyx"]
        + [f"sipsimple/core/media/csrc/{name}.c" for name in MEDIA_CODEC_SOURCES],
        packages=("opus", "speex", "spandsp"),
        include_dirs=["sipsimple/core/media/csrc"],
        libraries=["gsm", "m"],
    ),
    # RTP/RTCP packets and statistics, jitter buffer, RFC 4733 events (C, csrc/rtp_api.h); no libraries.
    extension(
        "sipsimple.core.media._rtp",
        ["sipsimple/core/media/_rtp.pyx"]
        + [f"sipsimple/core/media/csrc/{name}.c" for name in ("rtp", "rtcp", "jbuf", "dtmf")],
        include_dirs=["sipsimple/core/media/csrc"],
    ),
    # Media event queue (C, csrc/events.h): native threads -> eventfd -> the Twisted thread.
    extension(
        "sipsimple.core.media._events",
        ["sipsimple/core/media/_events.pyx", "sipsimple/core/media/csrc/events.c"],
        include_dirs=["sipsimple/core/media/csrc"],
        libraries=["pthread"],
    ),
    # Audio mixer, clock thread, resampler, WAV/tone/null/file ports, PortAudio devices (C, csrc/mixer.h,
    # port.h, padev.h); speexdsp, PortAudio.
    extension(
        "sipsimple.core.media._mixer",
        ["sipsimple/core/media/_mixer.pyx"]
        + [
            f"sipsimple/core/media/csrc/{name}.c"
            for name in (
                "mixer",
                "tick_batch",
                "codec_batch",
                "resample",
                "clock",
                "wav",
                "tone",
                "devices",
                "padev",
            )
        ],
        packages=("speexdsp", "portaudio-2.0", "alsa"),
        include_dirs=["sipsimple/core/media/csrc"],
        libraries=["pthread", "m"],
    ),
    # SRTP session pair: our AES-CM/HMAC-SHA1 engine over libcrypto, libsrtp2 for AEAD (csrc/srtp_ctx.h).
    extension(
        "sipsimple.core.media._srtp",
        ["sipsimple/core/media/_srtp.pyx"]
        + [f"sipsimple/core/media/csrc/{name}.c" for name in ("srtp_ctx", "srtp_cm")],
        packages=("libsrtp2", "libcrypto"),
        include_dirs=["sipsimple/core/media/csrc"],
        libraries=["pthread"],
    ),
    # RTP streams: the network I/O thread (epoll), RTPTransport, the audio stream port (C, csrc/netio.h,
    # stream*.h); the RTP/RTCP/jitter-buffer/DTMF sources compiled in, codecs and SRTP through the
    # _codecs and _srtp capsules (nothing to link).
    extension(
        "sipsimple.core.media._stream",
        ["sipsimple/core/media/_stream.pyx"]
        + [
            f"sipsimple/core/media/csrc/{name}.c"
            for name in (
                *("netio", "stream_transport", "stream_audio", "stream_srtp", "stream_bench"),
                *("rtp", "rtcp", "jbuf", "dtmf", "cn"),
            )
        ],
        include_dirs=["sipsimple/core/media/csrc"],
        libraries=["pthread", "m"],
    ),
]


def cythonized(extensions: list[Extension]) -> list[Extension]:
    from Cython.Build import cythonize

    return cythonize(
        extensions,
        language_level=3,
        nthreads=int(os.environ.get("SIPSIMPLE_BUILD_JOBS", "0")) or None,
        compiler_directives={"embedsignature": True, "binding": False},
        quiet=True,
    )


setup(ext_modules=cythonized(EXTENSIONS))
