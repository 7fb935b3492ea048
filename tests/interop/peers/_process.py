"""Start a peer process, wait until it is ready, stop it, and show its log when something fails.

Every process started here runs in its own session (process group), so stopping it also stops the
children it forked (Kamailio forks a dozen workers). Stopping is SIGTERM to the leader, then SIGKILL to
the whole group after a timeout. Processes that are still alive when the interpreter exits are killed
by an ``atexit`` hook. If the test process itself is killed (SIGTERM, SIGKILL), a small reaper process
that holds the other end of a pipe notices the pipe closing and kills every group still registered
with it. (Not ``PR_SET_PDEATHSIG``: it fires when the *thread* that started the peer ends, which would
kill peers started from a worker thread.)
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"
LOG_TAIL_LINES = 60
ADDRESS_IN_USE = re.compile(r"address (already )?in use", re.IGNORECASE)
PORT_RACE_ATTEMPTS = 3  # a peer whose free port was taken before it bound it gets new ports this often

_LIVE: set[ManagedProcess] = set()

# Runs in its own session, reads "+PGID"/"-PGID" lines; at end of input (the test process exited or
# died) it terminates, then kills, every process group still registered.
_REAPER_CODE = """
import os, signal, sys, time
groups = set()
for line in sys.stdin:
    (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
for number, sig in enumerate((signal.SIGTERM, signal.SIGKILL)):
    for group in groups:
        try:
            os.killpg(group, sig)
        except OSError:
            pass
    if groups and not number:
        time.sleep(1.0)
"""
_reaper: subprocess.Popen[str] | None = None


def _tell_reaper(line: str) -> None:
    global _reaper
    if _reaper is None or _reaper.poll() is not None:
        _reaper = subprocess.Popen(
            [sys.executable, "-c", _REAPER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
    assert _reaper.stdin is not None
    with contextlib.suppress(OSError):
        _reaper.stdin.write(line + "\n")
        _reaper.stdin.flush()


def _close_reaper() -> None:
    if _reaper is not None:
        with contextlib.suppress(OSError):
            assert _reaper.stdin is not None
            _reaper.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            _reaper.wait(5)


class PeerError(Exception):
    """A peer did not start, did not become ready or did not stop in time."""


def in_ci() -> bool:
    """True when running under CI, where a missing peer is a failure and never a skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_binary(name: str, package: str) -> str:
    """The path of ``name``; skips the test when it is missing (fails instead under ``CI=true``)."""
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/sbin") / name) if p.exists()), None
    )
    if path is None:
        reason = f"{name} not installed (Debian package {package}; run `scripts/bootstrap --with peers`)"
        if in_ci():
            pytest.fail(f"interop peer missing under CI: {reason}", pytrace=False)
        pytest.skip(reason)
    return path


_HANDED_OUT: set[int] = set()  # ports returned by free_port() in this process, never handed out twice


def reserve_port(port: int) -> None:
    """Make :func:`free_port` never return ``port`` (for ports a peer derives, like baresip's TLS)."""
    _HANDED_OUT.add(port)


def free_port(*kinds: int, host: str = LOOPBACK) -> int:
    """A port that is free on ``host`` for every socket type in ``kinds`` (default UDP and TCP).

    The port is released before it is returned, so another process could take it first; the peers
    are started right after, and inside the test run's own network namespace nothing else runs. A
    port is handed out once per test process, so two peers configured before either starts cannot
    be given the same one.
    """
    kinds = kinds or (socket.SOCK_DGRAM, socket.SOCK_STREAM)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        with socket.socket(family, kinds[0]) as first:
            first.bind((host, 0))
            port = first.getsockname()[1]
            if port in _HANDED_OUT:
                continue
            others = []
            try:
                for kind in kinds[1:]:
                    sock = socket.socket(family, kind)
                    others.append(sock)
                    sock.bind((host, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            finally:
                for sock in others:
                    sock.close()
            _HANDED_OUT.add(port)
            return port
    raise PeerError(f"no port free for {kinds} on {host}")


def tcp_port_answers(port: int, host: str = LOOPBACK) -> bool:
    """True when a TCP connection to ``host:port`` is accepted."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def udp_port_bound(port: int, host: str = LOOPBACK) -> bool:
    """True when a socket in this network namespace is bound to UDP ``port`` (``host`` picks v4/v6)."""
    table = "/proc/net/udp6" if ":" in host else "/proc/net/udp"
    wanted = f":{port:04X}"
    try:
        lines = Path(table).read_text().splitlines()[1:]
    except OSError:
        return False
    return any(line.split()[1].endswith(wanted) for line in lines if len(line.split()) > 1)


def tcp_port_listening(port: int, host: str = LOOPBACK) -> bool:
    """True when a socket in this namespace listens on TCP ``port`` (no connection is made)."""
    table = "/proc/net/tcp6" if ":" in host else "/proc/net/tcp"
    wanted = f":{port:04X}"
    try:
        lines = Path(table).read_text().splitlines()[1:]
    except OSError:
        return False
    return any(
        len(fields) > 3 and fields[1].endswith(wanted) and fields[3] == "0A"
        for fields in map(str.split, lines)
    )


class ManagedProcess:
    """One peer process: ``start()``, ``wait_ready()``, ``stop()``, ``log_tail()``.

    stdout and stderr go to ``log_path``. The process must stay in the foreground (no daemonising).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stop_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.argv = [os.fspath(a) for a in argv]
        self.log_path = log_path
        self.cwd = cwd
        self.env = env
        self.stop_timeout = stop_timeout
        self.popen: subprocess.Popen[bytes] | None = None
        self.stopped = False  # True once stop() was called (an exit before that is a crash)
        self._log_offset = 0  # where the output of the latest start begins in the log

    def __repr__(self) -> str:
        return f"<{self.name} pid={self.pid} running={self.running}>"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen else None

    @property
    def died(self) -> bool:
        """True when the process exited although nobody asked it to stop."""
        return self.popen is not None and not self.stopped and self.popen.poll() is not None

    def start(self) -> ManagedProcess:
        if self.running:
            raise PeerError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.stopped = False
        with open(self.log_path, "ab") as log:
            log.write(f"### {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
            log.flush()
            self._log_offset = log.tell()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
            )
        _LIVE.add(self)
        _tell_reaper(f"+{self.popen.pid}")
        return self

    def wait_ready(self, ready: Callable[[], bool], timeout: float = 10.0, what: str = "ready") -> None:
        """Poll ``ready()`` until it is true; fail early if the process exits, stop it on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise PeerError(
                    f"{self.name} exited with status {self.returncode} before it was {what}\n{self.log_tail()}"
                )
            if ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise PeerError(f"{self.name} was not {what} after {timeout:g} s\n{self.log_tail()}")
            time.sleep(0.05)

    def log_contains(self, text: str) -> bool:
        try:
            return text in self.log_path.read_text(errors="replace")
        except OSError:
            return False

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_since_start(self) -> str:
        """The output of the latest start only."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def lost_port_race(self) -> bool:
        """True when the latest start failed on a port someone else took ("Address already in use")."""
        return bool(ADDRESS_IN_USE.search(self.log_since_start()))

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM the leader, SIGKILL the whole group after ``timeout``; returns the exit status."""
        popen = self.popen
        if popen is None:
            return None
        self.stopped = True
        timeout = self.stop_timeout if timeout is None else timeout
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with open(self.log_path, "ab") as log:
                    log.write(f"### {self.name} ignored SIGTERM for {timeout:g} s: SIGKILL\n".encode())
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()
        _kill_group(popen.pid)  # workers the leader left behind
        _LIVE.discard(self)
        _tell_reaper(f"-{popen.pid}")
        return popen.returncode


def _live_members(pgid: int) -> bool:
    """True while a process other than a zombie is in process group ``pgid`` (reads /proc)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _kill_group(pgid: int, timeout: float = 5.0) -> None:
    """SIGKILL what is left of process group ``pgid`` and wait (bounded) until it is gone.

    Zombies do not count: in a container whose init does not reap orphans they stay forever.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _live_members(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # gone, or the id now belongs to someone else
            return
        time.sleep(0.02)


def run_bounded(
    argv: Sequence[str | os.PathLike[str]], timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a one-shot command in its own process group; kill the group if it outlives ``timeout``."""
    with subprocess.Popen(
        [os.fspath(a) for a in argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        text=True,
        start_new_session=True,
    ) as popen:
        try:
            out, err = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(popen.pid)
            out, err = popen.communicate()
            raise PeerError(f"{argv[0]} did not finish within {timeout:g} s\n{out}\n{err}") from None
        finally:
            _kill_group(popen.pid, timeout=1.0)
        return subprocess.CompletedProcess(popen.args, popen.returncode, out, err)


def stop_all() -> None:
    """Stop every peer this process started (used by the session finaliser and at exit)."""
    for proc in list(_LIVE):
        with contextlib.suppress(Exception):
            proc.stop(timeout=2.0)


@atexit.register
def _at_exit() -> None:
    stop_all()
    _close_reaper()
