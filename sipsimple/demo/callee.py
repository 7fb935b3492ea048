"""The demo's callee, run by the caller as a second process:

    python -m sipsimple.demo.callee --record FILE [--srtp MODE] [--codec NAME] [--max-seconds S]

A SIPApplication on 127.0.0.1 with an account that does not register. Every incoming session is
accepted with the AudioStream the SessionManager made; once the stream runs, what it hears is
recorded to FILE. Everything is reported on stdout as JSON lines: first ``{"ready": ...}`` with
the SIP ports and the account's contact user (the request URI user the caller must use), then
``{"t": seconds, "event": name, "data": {...}}`` per notification, ``{"stats": ...}`` with the
stream's RTP statistics before it ends, and ``{"done": ...}`` last. The process stops when a line
``stop`` or the end of stdin arrives, or after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any, cast

from sipsimple.demo.endpoint import Endpoint, Recorder, short
from sipsimple.notification import Notification, NotificationCenter

REPORTED = {
    "SIPSessionNewIncoming", "SIPSessionDidStart", "SIPSessionDidFail", "SIPSessionWillEnd",
    "SIPSessionDidEnd", "SIPSessionDidChangeHoldState", "MediaStreamDidStart", "MediaStreamDidFail",
    "AudioStreamDidChangeHoldState", "AudioStreamGotDTMF", "AudioStreamDidStartRecordingAudio",
    "AudioStreamDidStopRecordingAudio", "AudioStreamDidTimeout",
}  # fmt: skip

_output_lock = threading.Lock()


def emit(record: dict[str, Any]) -> None:
    with _output_lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


class AutoAnswer:
    """Accepts incoming sessions, records the audio stream, reports notifications as JSON lines."""

    def __init__(self, endpoint: Endpoint, recorder: Recorder, record: Path) -> None:
        self.endpoint = endpoint
        self.recorder = recorder
        self.record = record
        self.sessions: list[Any] = []
        self.last_statistics: dict[str, Any] | None = None

    def handle_notification(self, notification: Notification) -> None:
        name, data, sender = notification.name, notification.data, notification.sender
        data = cast(Any, data)
        sender = cast(Any, sender)
        if name in REPORTED:
            details = {k: short(v) for k, v in vars(data).items() if k not in ("timestamp", "streams")}
            emit({"t": round(self.recorder.elapsed(), 3), "event": name, "data": details})
        reactor = self.endpoint.application.engine.reactor
        if name == "SIPSessionNewIncoming":
            session = notification.sender
            self.sessions.append(session)
            audio = [s for s in data.streams if getattr(s, "type", None) == "audio"][:1]
            reactor.callLater(0, self._accept if audio else self._reject, session, audio)
        elif name == "MediaStreamDidStart" and getattr(notification.sender, "type", None) == "audio":
            reactor.callLater(0, sender.start_recording, str(self.record))
        elif name == "SIPSessionDidStart":
            reactor.callLater(0, self._sample, notification.sender)
        elif name == "SIPSessionDidEnd" and self.last_statistics is not None:
            emit(self.last_statistics)

    def _sample(self, session: Any) -> None:
        """Keeps the audio stream's statistics every 0.2 s while the session is connected (the
        stream port's counters are gone once the session ends)."""
        for stream in session.streams or []:
            statistics = getattr(stream, "statistics", None)
            if getattr(stream, "type", None) == "audio" and statistics is not None:
                self.last_statistics = {
                    "stats": _jsonable(statistics), "codec": stream.codec,
                    "sample_rate": stream.sample_rate, "srtp": stream.srtp_active,
                }  # fmt: skip
        if session.state not in ("terminating", "terminated"):
            self.endpoint.application.engine.reactor.callLater(0.2, self._sample, session)

    @staticmethod
    def _accept(session: Any, streams: list[Any]) -> None:
        if session.state == "incoming":
            session.accept(streams)

    @staticmethod
    def _reject(session: Any, streams: list[Any]) -> None:
        if session.state == "incoming":
            session.reject(488)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", type=Path, required=True, help="WAV file for what the callee hears")
    parser.add_argument("--srtp", default="sdes_mandatory", help="SRTP key negotiation, or 'none'")
    parser.add_argument("--codec", action="append", help="audio codec (repeatable; default: the engine's)")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop after this long in any case")
    args = parser.parse_args(argv)

    recorder = Recorder()
    endpoint = Endpoint("sipsimple-demo-callee-")
    answer = AutoAnswer(endpoint, recorder, args.record)
    center = NotificationCenter()
    center.add_observer(answer)
    status = 0
    try:
        endpoint.start(recorder, same_port=True)
        srtp = None if args.srtp == "none" else args.srtp
        account = endpoint.make_account("bob@example.test", srtp=srtp, codecs=args.codec)
        udp, tcp = endpoint.ports
        emit({"ready": True, "udp": udp, "tcp": tcp, "user": account.contact.username})
        stop = threading.Event()

        def read_stdin() -> None:
            for line in sys.stdin:
                if line.strip() == "stop":
                    break
            stop.set()

        threading.Thread(target=read_stdin, name="demo-callee-stdin", daemon=True).start()
        stop.wait(args.max_seconds)
    except Exception as error:  # reported to the caller, which prints it
        emit({"error": f"{type(error).__name__}: {error}"})
        status = 1
    finally:
        center.discard_observer(answer)
        ended = endpoint.stop(recorder)
        emit({"done": True, "ended": ended})
    return status


if __name__ == "__main__":
    raise SystemExit(main())
