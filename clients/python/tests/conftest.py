"""Fixtures: a real ``apikeysd`` for the whole session, and small async helpers.

The binary is ``$APIKEYSD`` or ``<repo>/.build/debug/apikeysd``.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import pytest

HERE = pathlib.Path(__file__).resolve().parent
CLIENT_ROOT = HERE.parent
REPO_ROOT = CLIENT_ROOT.parent.parent
# APIKEYS_TEST_INSTALLED=1 (make test-python-protobuf): test the installed package, not
# this source tree.
if not os.environ.get("APIKEYS_TEST_INSTALLED"):
    sys.path.insert(0, str(CLIENT_ROOT))
sys.path.insert(0, str(HERE))

from helpers import HANDSHAKE_TIMEOUT_S, IDLE_TIMEOUT_S, MAX_CONCURRENT_CALLS  # noqa: E402

DEFAULT_BINARY = REPO_ROOT / ".build" / "debug" / "apikeysd"
STARTUP_TIMEOUT_S = 30


def apikeysd_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get("APIKEYSD", str(DEFAULT_BINARY)))


@dataclass
class ServerProcess:
    """A running ``apikeysd`` and what it printed."""

    process: subprocess.Popen
    host: str
    port: int
    data_dir: str
    operator_credential: str | None
    stdout_lines: list = field(default_factory=list)
    stderr_path: str = ""

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def stderr_tail(self, n: int = 40) -> str:
        try:
            with open(self.stderr_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait; SIGKILL if it does not exit. Returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_server(data_dir: str, *extra_args: str, conformance: bool = True,
                 store: str | None = None, port: int = 0) -> ServerProcess:
    """Start apikeysd on an ephemeral port and wait for its "listening on" line; with the
    Conformance test service unless ``conformance`` is false. With ``store`` (a
    ``postgres://`` URL) the server uses that database instead of ``data_dir``, which then
    only names where its stderr goes. ``port`` 0 is any free port; a restart passes the
    old one."""
    binary = apikeysd_path()
    if not binary.exists():
        pytest.fail(f"apikeysd not found at {binary}: build it (swift build) or set APIKEYSD", pytrace=False)
    where = ["--store", store] if store is not None else ["--data-dir", data_dir]
    args = [str(binary), "--host", "127.0.0.1", "--port", str(port), *where,
            *(["--conformance"] if conformance else []), "--idle-timeout", str(IDLE_TIMEOUT_S),
            "--handshake-timeout", str(HANDSHAKE_TIMEOUT_S),
            "--max-concurrent-calls", str(MAX_CONCURRENT_CALLS), *extra_args]
    stderr_path = os.path.join(data_dir, "..", os.path.basename(data_dir) + ".stderr.log")
    stderr_file = open(stderr_path, "ab")  # a restart on the same directory appends
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr_file, stdin=subprocess.DEVNULL)
    stderr_file.close()
    lines: list[str] = []
    found: dict[str, str] = {}
    cond = threading.Condition()

    def pump() -> None:  # keep reading so the pipe never fills
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with cond:
                lines.append(line)
                if "apikeysd listening on " in line:
                    found["listen"] = line.split("apikeysd listening on ", 1)[1].strip()
                if "operator credential:" in line:
                    found["operator"] = line.split("operator credential:", 1)[1].strip()
                cond.notify_all()
        with cond:
            found["eof"] = ""
            cond.notify_all()

    threading.Thread(target=pump, daemon=True, name="apikeysd-stdout").start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with cond:
        while "listen" not in found and "eof" not in found:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            cond.wait(left)
        # The operator line may come just after the listening line.
        grace = time.monotonic() + 1.0
        while "listen" in found and "operator" not in found and "eof" not in found:
            left = grace - time.monotonic()
            if left <= 0:
                break
            cond.wait(left)
    if "listen" not in found:
        proc.kill()
        proc.wait(5)
        with open(stderr_path, errors="replace") as f:
            err = f.read()[-3000:]
        pytest.fail(f"apikeysd did not report 'listening on' within {STARTUP_TIMEOUT_S} s; "
                    f"exit={proc.returncode}\nargs={args}\nstdout={lines}\nstderr:\n{err}", pytrace=False)
    host, _, port = found["listen"].rpartition(":")
    host = host.strip("[]")
    return ServerProcess(proc, host, int(port), data_dir, found.get("operator"), lines, stderr_path)


@pytest.fixture(scope="session")
def server():
    with tempfile.TemporaryDirectory(prefix="apikeysd-test-") as tmp:
        data_dir = os.path.join(tmp, "data")
        os.makedirs(data_dir)
        srv = start_server(data_dir)
        try:
            yield srv
        finally:
            status = srv.stop()
            if status not in (0, None):
                sys.stderr.write(f"apikeysd exited with status {status}\n{srv.stderr_tail()}\n")


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own (for tests that stop it)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    srv = start_server(str(data_dir))
    try:
        yield srv
    finally:
        srv.stop()



@pytest.fixture
def server_factory(tmp_path):
    """Start servers of its own with extra flags: ``server_factory("--max-connections", "2")``
    (``conformance=False`` leaves out the Conformance service)."""
    started: list[ServerProcess] = []

    def start(*extra_args: str, conformance: bool = True) -> ServerProcess:
        data_dir = tmp_path / f"data{len(started)}"
        data_dir.mkdir()
        srv = start_server(str(data_dir), *extra_args, conformance=conformance)
        started.append(srv)
        return srv

    try:
        yield start
    finally:
        for srv in started:
            srv.stop()
