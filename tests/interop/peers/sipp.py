"""SIPp runs: a scenario from ``configs/sipp`` (or any path) against a target, bounded in calls and time.

``Sipp.run()`` waits for the run and returns a :class:`SippResult` (exit status and the final
cumulative counters of SIPp's statistics file); ``Sipp.spawn()`` starts a run in the background (a UAS
waiting for our Engine, say) and ``SippRun.wait()`` collects the same result later. Every run has a
call limit (``-m``), a global SIPp timeout, and a hard timeout after which its process group is killed.

SIPp exit statuses: 0 every call succeeded, 1 at least one failed, 97 stopped by an internal command,
99 no call processed, 255 fatal error, 254 could not bind its socket.
"""

from __future__ import annotations

import csv
import itertools
import os
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import CONFIGS
from ._process import (
    LOOPBACK,
    ManagedProcess,
    PeerError,
    free_port,
    require_binary,
    tcp_port_listening,
    udp_port_bound,
)
from .kamailio import Kamailio, User

SCENARIOS = CONFIGS / "sipp"
TRANSPORTS = {"u1", "un", "ui", "t1", "tn", "c1", "cn"}  # this SIPp build has no TLS


@dataclass
class SippResult:
    """The outcome of one SIPp run."""

    returncode: int
    successful: int
    failed: int
    stats: dict[str, str]
    output: str
    messages: str = ""
    errors: str = ""
    argv: list[str] = field(default_factory=list)
    local_port: int = 0

    @property
    def ok(self) -> bool:
        """Exit status 0, no failed call and at least one successful one."""
        return self.returncode == 0 and self.failed == 0 and self.successful > 0

    def counter(self, name: str) -> int:
        """A cumulative counter of the statistics file, e.g. ``counter("Retransmissions")``."""
        return int(self.stats.get(f"{name}(C)", "0") or 0)

    def describe(self) -> str:
        """A report for assertion messages: status, counters, SIPp's errors and the message trace."""
        parts = [
            f"sipp exit {self.returncode}: {self.successful} successful, {self.failed} failed",
            "argv: " + " ".join(self.argv),
            "--- output (tail) ---\n" + "\n".join(self.output.splitlines()[-25:]),
        ]
        if self.errors:
            parts.append("--- unexpected messages ---\n" + self.errors[-3000:])
        if self.messages:
            parts.append("--- messages (tail) ---\n" + self.messages[-4000:])
        return "\n".join(parts)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _final_stats(path: Path) -> dict[str, str]:
    """The last row of a SIPp ``-trace_stat`` file (``;``-separated, header first)."""
    rows = [row for row in csv.reader(_read(path).splitlines(), delimiter=";") if row]
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


class SippRun:
    """A SIPp process started by :meth:`Sipp.spawn`."""

    def __init__(
        self,
        process: ManagedProcess,
        files: dict[str, Path],
        local_port: int,
        transport: str,
        hard_timeout: float,
    ) -> None:
        self.process = process
        self.files = files
        self.local_port = local_port
        self.transport = transport
        self.hard_timeout = hard_timeout
        self.result: SippResult | None = None

    @property
    def uri(self) -> str:
        """Where this SIPp instance listens (for a UAS): ``sip:127.0.0.1:PORT``."""
        return f"sip:{LOOPBACK}:{self.local_port}"

    def wait_listening(self, timeout: float = 5.0) -> SippRun:
        """Wait until SIPp has bound its local port (before sending anything to a SIPp UAS)."""
        bound = tcp_port_listening if self.transport[0] in "tc" else udp_port_bound
        self.process.wait_ready(lambda: bound(self.local_port), timeout=timeout, what="listening")
        return self

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for the run to end (killing it after ``timeout``, default the hard timeout)."""
        if self.result is not None:
            return self.result
        popen = self.process.popen
        assert popen is not None
        timeout = self.hard_timeout if timeout is None else timeout
        try:
            popen.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        returncode = self.process.stop(timeout=1.0)
        stats = _final_stats(self.files["stats"])
        output = _read(self.process.log_path)
        if timed_out:
            output += f"\n### killed by the harness after {timeout:g} s"
        self.result = SippResult(
            returncode=-9 if timed_out else (returncode if returncode is not None else -1),
            successful=int(stats.get("SuccessfulCall(C)", "0") or 0),
            failed=int(stats.get("FailedCall(C)", "0") or 0),
            stats=stats,
            output=output,
            messages=_read(self.files["messages"]),
            errors=_read(self.files["errors"]),
            argv=self.process.argv,
            local_port=self.local_port,
        )
        return self.result

    def stop(self) -> SippResult:
        """End the run now (SIGTERM, then SIGKILL) and collect its result."""
        self.process.stop(timeout=2.0)
        return self.wait(timeout=0)


def _target(target: Kamailio | tuple[str, int] | str | None) -> list[str]:
    if target is None:
        return []
    if isinstance(target, Kamailio):
        return [f"{target.host}:{target.sip_port}"]
    if isinstance(target, tuple):
        return [f"{target[0]}:{target[1]}"]
    return [target]


class Sipp:
    """Runs SIPp scenarios; the logs of each run go to ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_binary("sipp", "sip-tester")
        self.workdir = workdir
        self._runs = itertools.count(1)
        self.spawned: list[SippRun] = []

    @staticmethod
    def scenario_path(scenario: str | os.PathLike[str]) -> Path:
        path = Path(scenario)
        if not path.is_absolute() and not path.exists():
            path = SCENARIOS / path
        if not path.exists():
            raise FileNotFoundError(f"SIPp scenario {scenario} (looked in {SCENARIOS})")
        return path.resolve()

    def spawn(
        self,
        scenario: str | os.PathLike[str],
        target: Kamailio | tuple[str, int] | str | None = None,
        *,
        service: str | None = None,
        auth: User | tuple[str, str] | None = None,
        transport: str = "u1",
        calls: int = 1,
        rate: float | None = None,
        local_port: int | None = None,
        timeout: float = 15.0,
        keys: Mapping[str, str] | None = None,
        trace: bool | None = None,
        extra_args: Sequence[str] = (),
    ) -> SippRun:
        """Start SIPp in the background; see :meth:`run` for the arguments."""
        if transport not in TRANSPORTS:
            raise ValueError(f"transport {transport!r}: one of {sorted(TRANSPORTS)}")
        if calls < 1 or timeout <= 0:
            raise ValueError("a SIPp run needs a call limit >= 1 and a positive timeout")
        kind = socket.SOCK_STREAM if transport[0] in "tc" else socket.SOCK_DGRAM
        local_port = local_port or free_port(kind)
        number = next(self._runs)
        stem = f"sipp-{number:03d}-{Path(scenario).stem}"
        files = {
            "stats": self.workdir / f"{stem}.stats.csv",
            "messages": self.workdir / f"{stem}.messages.log",
            "errors": self.workdir / f"{stem}.errors.log",
        }
        if trace is None:
            trace = calls <= 20
        argv: list[Any] = [
            self.binary,
            *_target(target),
            "-sf", self.scenario_path(scenario),
            "-i", LOOPBACK,
            "-p", str(local_port),
            "-t", transport,
            "-m", str(calls),
            "-nostdin",
            "-timeout", f"{timeout:g}s", "-timeout_error",
            "-trace_stat", "-stf", files["stats"], "-fd", "1",
            "-trace_err", "-error_file", files["errors"],
        ]  # fmt: skip
        if trace:
            argv += ["-trace_msg", "-message_file", files["messages"]]
        if service:
            argv += ["-s", service]
        if auth is not None:
            user, password = (auth.name, auth.password) if isinstance(auth, User) else auth
            argv += ["-au", user, "-ap", password]
        if rate is not None:
            argv += ["-r", f"{rate:g}"]
        for key, value in (keys or {}).items():
            argv += ["-key", key, value]
        argv += list(extra_args)
        process = ManagedProcess(
            "sipp", argv, self.workdir / f"{stem}.log", cwd=self.workdir, stop_timeout=2.0
        )
        process.start()
        run = SippRun(process, files, local_port, transport, hard_timeout=timeout + 10.0)
        self.spawned.append(run)
        return run

    def run(
        self,
        scenario: str | os.PathLike[str],
        target: Kamailio | tuple[str, int] | str | None = None,
        **options: Any,
    ) -> SippResult:
        """Run ``scenario`` against ``target`` and wait for it.

        ``scenario``: a file name in ``configs/sipp`` or a path. ``target``: a :class:`Kamailio`, a
        ``(host, port)`` pair or ``"host:port"`` (``None`` for a UAS). ``service`` is SIPp's ``-s``
        (the user part the scenarios address), ``auth`` a :class:`User` or ``(user, password)`` for
        digest challenges, ``transport`` SIPp's ``-t`` (``u1`` UDP, ``t1`` TCP), ``calls`` the call
        limit, ``rate`` calls per second, ``timeout`` SIPp's global timeout in seconds (the harness
        kills it 10 s later), ``keys`` extra ``-key`` keywords, ``trace`` writes the message trace
        (default: for runs of at most 20 calls).
        """
        return self.spawn(scenario, target, **options).wait()

    __call__ = run

    def stop_all(self) -> None:
        for run in self.spawned:
            if run.result is None:
                try:
                    run.stop()
                except PeerError:
                    pass
