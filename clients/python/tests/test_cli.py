"""The `apikeys` command-line tool as people use it, over the real binaries: a real
apikeysd (the session server, or one of its own) and the real `apikeys` run with
subprocess. Closed pipes, exit codes, errors on stderr or as one JSON object, wrong ports
and TLS mismatches, confirmation, --all, secrets from files and stdin, contexts.

The tool is ``$APIKEYS_CLI`` or ``apikeys`` next to ``$APIKEYSD``.
"""

from __future__ import annotations

import json
import os
import pathlib
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass

import pytest

from conftest import apikeysd_path
from helpers import secret_file
from test_tls import _leaf, certificates  # noqa: F401  (a fixture: CA, server and client certificates)

# Generous: a loaded 2-core CI machine starts a debug binary slowly.
RUN_TIMEOUT_S = 60

EXIT = {"usage": 64, "cancelled": 2, "not_found": 3, "unauthenticated": 4, "permission": 5,
        "precondition": 6, "already_exists": 7, "unavailable": 69, "failure": 1}


def cli_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get("APIKEYS_CLI", str(apikeysd_path().parent / "apikeys")))


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"exit {self.rc}\nstdout: {self.out[:2000]}\nstderr: {self.err[:2000]}"


def base_env(**extra: str) -> dict:
    """The caller's environment without APIKEYS_* (a developer's own settings must not leak
    in), and a config file path that does not exist unless a test writes it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APIKEYS_")}
    env["APIKEYS_CONFIG"] = os.path.join(os.path.dirname(secret_file("")), f"no-config-{uuid.uuid4().hex}.json")
    env.update(extra)
    return env


def cli(*args: str, env: dict | None = None, stdin=subprocess.DEVNULL, input: str | None = None) -> Result:
    binary = cli_path()
    if not binary.exists():
        pytest.fail(f"apikeys not found at {binary}: build it (swift build) or set APIKEYS_CLI", pytrace=False)
    p = subprocess.run([str(binary), *args], env=env or base_env(), capture_output=True,
                       stdin=None if input is not None else stdin,
                       input=input.encode() if input is not None else None, timeout=RUN_TIMEOUT_S)
    return Result(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))


def ok(result: Result) -> Result:
    assert result.rc == 0, str(result)
    return result


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Tenant:
    """A tenant of the session server: alice (admin, developer), bob (developer), the
    service credential ``console`` that acts in it, and a verify-only credential."""
    address: str
    tenant: str
    operator_file: str
    console_file: str
    verifier_file: str

    @property
    def operator(self) -> list[str]:
        return ["--server", self.address, "--operator-credential-file", self.operator_file]

    def as_user(self, user: str) -> list[str]:
        return ["--server", self.address, "--service-credential-file", self.console_file,
                "--tenant", self.tenant, "--user", user]

    @property
    def verifier(self) -> list[str]:
        return ["--server", self.address, "--service-credential-file", self.verifier_file]

    def generate(self, user: str = "alice", name: str = "k") -> tuple[str, str]:
        """A new key's ID and secret."""
        data = ok(cli(*self.as_user(user), "--json", "keys", "generate", "--name", name)).json()
        return data["key"]["id"], data["secret"]


@pytest.fixture(scope="module")
def acme(server) -> Tenant:
    """Set up with the tool itself: it is what the quickstart does."""
    tenant = "t-" + uuid.uuid4().hex[:12]
    address = f"{server.host}:{server.port}"
    t = Tenant(address, tenant, secret_file(server.operator_credential + "\n"), "", "")
    ok(cli(*t.operator, "--json", "tenants", "create", tenant, "--name", "CLI tests", "--admin", "alice"))
    console = ok(cli(*t.operator, "--json", "credentials", "create", f"console-{tenant}",
                     "--scope", "act", "--tenants", tenant)).json()["secret"]
    verifier = ok(cli(*t.operator, "--json", "credentials", "create", f"verify-{tenant}",
                      "--scope", "verify")).json()["secret"]
    t.console_file = secret_file(f"# console, acting in {tenant}\n{console}\n")
    t.verifier_file = secret_file(verifier)
    ok(cli(*t.as_user("alice"), "settings", "update", "--enabled", "true"))
    ok(cli(*t.as_user("alice"), "users", "assign-role", "alice", "developer"))
    ok(cli(*t.operator, "users", "create", "bob", "--tenant", tenant))
    ok(cli(*t.as_user("alice"), "users", "assign-role", "bob", "developer"))
    ok(cli(*t.as_user("alice"), "users", "license", "bob", "on"))
    return t


def key_status(t: Tenant, key_id: str) -> str:
    return ok(cli(*t.as_user("alice"), "--json", "keys", "get", key_id)).json()["status"]


# --- a closed pipe ------------------------------------------------------------------------------

def run_with_closed_stdout(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """stdout is a pipe whose reader is gone before the tool starts, so its first write
    fails with EPIPE, deterministically (`apikeys ... | head -1` after head exited)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([str(cli_path()), *args], env=env or base_env(), stdout=write_end,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S)
    finally:
        os.close(write_end)


def test_closed_pipe_ends_quietly_by_sigpipe(acme):
    """Like cat, gh and kubectl: killed by SIGPIPE (a shell shows 141), nothing on stderr;
    never SIGILL (132) with a backtrace."""
    key_id, _ = acme.generate(name="pipe")
    for args in (["--server", acme.address, "health"],
                 ["--server", acme.address, "--json", "health"],
                 [*acme.as_user("alice"), "keys", "list", "--all"],
                 [*acme.as_user("alice"), "keys", "revoke", key_id, "--yes"]):
        p = run_with_closed_stdout(*args)
        assert p.returncode == -signal.SIGPIPE, (args, p.returncode, p.stderr[-3000:])
        assert p.stderr == b"", (args, p.stderr[-3000:])
    # The revoke happened before its output was lost.
    assert key_status(acme, key_id) == "revoked"


def test_closed_pipe_in_a_shell_pipeline(acme):
    """`apikeys keys list | head -1` in bash: no backtrace, and the status is 0 (the output
    fit in the pipe before head exited) or 141 (SIGPIPE), as for any Unix filter."""
    for _ in range(3):
        acme.generate(name="pipeline")
    script = '"$@" | head -1 >/dev/null; echo "status=${PIPESTATUS[0]}"'
    p = subprocess.run(["bash", "-c", script, "bash", str(cli_path()), *acme.as_user("alice"), "keys", "list", "--all"],
                       env=base_env(), capture_output=True, timeout=RUN_TIMEOUT_S)
    assert p.stdout.decode().strip() in ("status=0", "status=141"), p
    assert p.stderr == b"", p.stderr[-3000:]


def test_help_to_a_closed_pipe_does_not_crash():
    p = run_with_closed_stdout("--help")
    assert p.returncode in (0, -signal.SIGPIPE), p
    assert p.stderr == b"", p.stderr[-3000:]


# --- exit codes, errors on stderr or as JSON ----------------------------------------------------

def expect_failure(args: list[str], status: str, code: str, **kwargs) -> None:
    """The text form: nothing on stdout, `error: CODE: ...` on stderr. The --json form:
    one JSON object on stdout, nothing on stderr. Both exit with the documented status."""
    want = EXIT[status]
    text = cli(*args, **kwargs)
    assert text.rc == want, f"{args}: want exit {want}\n{text}"
    assert text.out == "", f"{args}: stdout must be empty on failure\n{text}"
    first = text.err.splitlines()[0]
    assert first.startswith("error: "), text
    if code != "USAGE":
        assert first.startswith(f"error: {code}: "), text
        assert len(text.err.splitlines()) == 1, f"one line on stderr\n{text}"
    assert "Error:" not in text.err and "Fatal" not in text.err, text

    as_json = cli("--json", *args, **kwargs)
    assert as_json.rc == want, f"--json {args}\n{as_json}"
    assert as_json.err == "", f"--json: nothing on stderr\n{as_json}"
    error = as_json.json()["error"]
    assert error["code"] == code, as_json
    assert error["exitCode"] == want, as_json
    assert error["message"], as_json


def test_exit_code_usage(acme):
    expect_failure([*acme.as_user("alice"), "keys", "list", "--page-size", "0"], "usage", "USAGE")
    expect_failure(["keys", "list"], "usage", "USAGE")  # no credential at all
    expect_failure(["keys", "frobnicate"], "usage", "USAGE")


def test_exit_code_unauthenticated(acme):
    bogus = secret_file("apk_" + "x" * 40)
    expect_failure(["--server", acme.address, "--api-key-file", bogus, "keys", "list"], "unauthenticated", "UNAUTHENTICATED")
    # A key that does not verify: what a script checking a presented key needs to tell apart.
    key_id, secret = acme.generate(name="to-revoke")
    ok(cli(*acme.as_user("alice"), "keys", "revoke", key_id, "--yes"))
    expect_failure([*acme.verifier, "verify", "-"], "unauthenticated", "UNAUTHENTICATED", input=secret + "\n")


def test_exit_code_permission_denied(acme):
    # Events are the tenant admin's; bob is a developer.
    expect_failure([*acme.as_user("bob"), "events", "list"], "permission", "PERMISSION_DENIED")


def test_exit_code_not_found(acme):
    expect_failure([*acme.as_user("alice"), "keys", "get", "key_doesnotexist0000"], "not_found", "NOT_FOUND")


def test_exit_code_failed_precondition(acme):
    key_id, _ = acme.generate(name="twice")
    ok(cli(*acme.as_user("alice"), "keys", "revoke", key_id, "--yes"))
    expect_failure([*acme.as_user("alice"), "keys", "revoke", key_id, "--yes"], "precondition", "FAILED_PRECONDITION")


def test_exit_code_already_exists(acme):
    expect_failure([*acme.operator, "tenants", "create", acme.tenant, "--name", "again"], "already_exists", "ALREADY_EXISTS")


def test_exit_code_unavailable_without_a_server():
    port = free_port()
    expect_failure(["--server", f"127.0.0.1:{port}", "health"], "unavailable", "UNAVAILABLE")
    text = cli("--server", f"127.0.0.1:{port}", "health")
    assert f"cannot connect to 127.0.0.1:{port}" in text.err, text


def test_partial_revoke_many_with_json_prints_only_the_results(acme):
    key_id, _ = acme.generate(name="many")
    r = cli(*acme.as_user("alice"), "--json", "keys", "revoke-many", key_id, "key_doesnotexist0000", "--yes")
    assert r.rc == EXIT["failure"], r
    assert r.err == "", r
    data = r.json()
    assert (data["revoked"], data["requested"]) == (1, 2), data


# --- wrong port, wrong TLS ----------------------------------------------------------------------

class InstantHTTPServer:
    """Answers any bytes with `400 Bad Request` at once, as NIO- or llhttp-based HTTP servers
    (apikeysd's own --http-port among them) do when they read the apikeys preface."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(10)
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    # Close as an HTTP server does: after the reply, without resetting it away.
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(4096):
                        pass
                except OSError:
                    pass

    def close(self):
        self.sock.close()


@pytest.fixture
def http_server():
    """`python3 -m http.server` on a free loopback port: it waits, silent, for a request line."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("python3 -m http.server did not start")
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def one_error_line(result: Result) -> str:
    assert result.rc == EXIT["unavailable"], result
    assert result.out == "", result
    lines = result.err.splitlines()
    assert len(lines) == 1, result
    # Never BoringSSL's or NIO's internals.
    for internal in ("error:1", "NIOSSL", "tls_record.cc", "WRONG_VERSION_NUMBER", "1213486160", "exceeds the maximum"):
        assert internal not in lines[0], result
    return lines[0]


def test_http_server_on_the_port(http_server):
    line = one_error_line(cli("--server", f"127.0.0.1:{http_server}", "--timeout", "3", "health"))
    assert "is this the apikeys port?" in line, line


def test_http_reply_is_named_not_read_as_a_frame():
    http = InstantHTTPServer()
    try:
        line = one_error_line(cli("--server", f"127.0.0.1:{http.port}", "health"))
        assert "the server answered with HTTP: is this the apikeys port?" in line, line
        # Asked for TLS, the HTTP reply is no TLS record either.
        line = one_error_line(cli("--server", f"127.0.0.1:{http.port}", "--tls", "health"))
        assert "does not use TLS" in line, line
    finally:
        http.close()


def test_tls_to_a_plain_server(acme):
    line = one_error_line(cli("--server", acme.address, "--tls", "health"))
    assert "the server does not use TLS" in line, line


def test_tls_mismatches(server_factory, certificates):  # noqa: F811
    d = certificates
    # Named by DNS only: a client that dials 127.0.0.1 must be told the name to expect.
    _leaf(d, "named", "localhost", "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
          "subjectAltName=DNS:localhost\n", 9)
    srv = server_factory("--tls-certificate", str(d / "named.pem"), "--tls-private-key", str(d / "named.key"))
    address = f"127.0.0.1:{srv.port}"
    ok(cli("--server", address, "--tls-ca", str(d / "ca.pem"), "--tls-server-name", "localhost", "health"))
    # Plain TCP to a TLS server.
    line = one_error_line(cli("--server", address, "health"))
    assert "the server uses TLS: pass --tls-ca" in line, line
    # The system's roots do not know the test CA.
    line = one_error_line(cli("--server", address, "--tls", "--tls-server-name", "localhost", "health"))
    assert "--tls-ca" in line and "not trusted" in line, line
    # The certificate names localhost, not 127.0.0.1.
    line = one_error_line(cli("--server", address, "--tls-ca", str(d / "ca.pem"), "health"))
    assert "does not name 127.0.0.1: pass --tls-server-name" in line, line
    line = one_error_line(cli("--server", address, "--tls-ca", str(d / "ca.pem"),
                              "--tls-server-name", "apikeys.example.org", "health"))
    assert "does not name apikeys.example.org: pass --tls-server-name" in line, line

    # Mutual TLS: without a client certificate the server ends the handshake.
    mutual = server_factory("--tls-certificate", str(d / "server.pem"), "--tls-private-key", str(d / "server.key"),
                            "--tls-client-ca", str(d / "ca.pem"))
    line = one_error_line(cli("--server", f"127.0.0.1:{mutual.port}", "--tls-ca", str(d / "ca.pem"), "health"))
    assert "--tls-certificate" in line, line


# --- confirmation -------------------------------------------------------------------------------

def test_destructive_commands_refused_without_yes_when_stdin_is_not_a_terminal(acme):
    key_id, _ = acme.generate(name="keep-me")
    for args in (["keys", "delete", key_id], ["keys", "revoke", key_id], ["keys", "revoke-many", key_id]):
        r = cli(*acme.as_user("alice"), *args)  # stdin is /dev/null
        assert r.rc == EXIT["usage"], r
        assert "pass --yes" in r.err and "stdin is not a terminal" in r.err, r
        assert r.out == "", r
    r = cli(*acme.operator, "credentials", "revoke", "svc_doesnotexist")
    assert r.rc == EXIT["usage"] and "pass --yes" in r.err, r
    r = cli(*acme.operator, "users", "remove", "bob", "--tenant", acme.tenant)
    assert r.rc == EXIT["usage"] and "pass --yes" in r.err, r
    assert key_status(acme, key_id) == "active"
    ok(cli(*acme.as_user("alice"), "keys", "delete", key_id, "--yes"))
    assert cli(*acme.as_user("alice"), "keys", "get", key_id).rc == EXIT["not_found"]


def run_on_a_terminal(args: list[str], answer: str) -> Result:
    """The tool with a pseudo-terminal as stdin: it asks on stderr, `answer` is typed."""
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([str(cli_path()), *args], env=base_env(), stdin=terminal,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(terminal)
        terminal = -1
        # Type only once the question is there, as a person would (the echo is discarded).
        deadline = time.monotonic() + RUN_TIMEOUT_S
        err = b""
        while b"[y/N]" not in err:
            assert time.monotonic() < deadline and proc.poll() is None, (proc.poll(), err)
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                err += os.read(proc.stderr.fileno(), 4096)
        os.write(controller, answer.encode() + b"\n")
        out, rest = proc.communicate(timeout=RUN_TIMEOUT_S)
        return Result(proc.returncode, out.decode(), (err + rest).decode())
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)


def test_confirmation_on_a_terminal(acme):
    key_id, _ = acme.generate(name="ask-me")
    no = run_on_a_terminal([*acme.as_user("alice"), "keys", "revoke", key_id], "n")
    assert no.rc == EXIT["cancelled"], no
    assert f"Revoke key {key_id}? [y/N]" in no.err and "cancelled" in no.err, no
    assert key_status(acme, key_id) == "active"
    yes = run_on_a_terminal([*acme.as_user("alice"), "keys", "revoke", key_id], "y")
    assert yes.rc == 0, yes
    assert f"Revoked key {key_id}." in yes.out, yes
    assert key_status(acme, key_id) == "revoked"


# --- --all --------------------------------------------------------------------------------------

def test_all_pages_of_keys_and_events(acme):
    user = "pager-" + uuid.uuid4().hex[:6]
    ok(cli(*acme.operator, "users", "create", user, "--tenant", acme.tenant, "--developer", "--licensed"))
    made = [acme.generate(user, name=f"page-{i}")[0] for i in range(5)]
    mine = [*acme.as_user(user), "--json", "keys", "list", "--page-size", "2"]
    first = ok(cli(*mine)).json()
    assert len(first["keys"]) == 2 and first["nextPageToken"], first
    every = ok(cli(*mine, "--all")).json()
    assert sorted(k["id"] for k in every["keys"]) == sorted(made), every
    assert every["nextPageToken"] == "", every
    # From a token on: the rest.
    rest = ok(cli(*mine, "--all", "--page-token", first["nextPageToken"])).json()
    assert len(rest["keys"]) == 3, rest

    events = [*acme.as_user("alice"), "--json", "events", "list", "--actor", f"user:{user}"]
    one_page = ok(cli(*events, "--page-size", "100")).json()
    assert len(one_page["events"]) >= 5 and one_page["nextPageToken"] == "", one_page
    paged = ok(cli(*events, "--page-size", "2", "--all")).json()
    assert [e["id"] if "id" in e else e for e in paged["events"]] == \
           [e["id"] if "id" in e else e for e in one_page["events"]], paged
    assert paged["nextPageToken"] == ""

    # Users and credentials come in one reply; --all is accepted everywhere.
    users = ok(cli(*acme.as_user("alice"), "--json", "users", "list", "--all")).json()["users"]
    assert user in [u["userId"] for u in users]
    ok(cli(*acme.operator, "--json", "credentials", "list", "--all"))


# --- secrets from files and stdin ---------------------------------------------------------------

def test_secrets_from_files_and_stdin(acme):
    key_id, secret = acme.generate(name="from-file")
    key_file = secret_file(f"# alice's key\n\n  {secret}  \n")
    listed = ok(cli("--server", acme.address, "--api-key-file", key_file, "--json", "keys", "list", "--all")).json()
    assert key_id in [k["id"] for k in listed["keys"]]

    verified = ok(cli(*acme.verifier, "--json", "verify", "-", input=secret + "\n")).json()
    assert (verified["tenantId"], verified["keyId"]) == (acme.tenant, key_id)
    # From a file through the shell, as the docs show: apikeys verify - < file
    with open(key_file) as f:
        p = subprocess.run([str(cli_path()), *acme.verifier, "--json", "verify", "-"], stdin=f,
                           env=base_env(), capture_output=True, timeout=RUN_TIMEOUT_S)
    assert p.returncode == 0 and json.loads(p.stdout)["keyId"] == key_id, p  # comments and blanks skipped
    empty = cli(*acme.verifier, "verify", "-", input="")
    assert empty.rc == EXIT["usage"] and "no secret on stdin" in empty.err, empty

    # The environment still works; the file flag beats it.
    env = base_env(APIKEYS_API_KEY="apk_" + "y" * 40)
    ok(cli("--server", acme.address, "--api-key-file", key_file, "keys", "list", env=env))
    assert cli("--server", acme.address, "keys", "list", env=env).rc == EXIT["unauthenticated"]

    # Bad files: a usage error naming the file, never its content.
    two = secret_file(f"{secret}\nsecond-line-{secret}\n")
    r = cli("--server", acme.address, "--api-key-file", two, "keys", "list")
    assert r.rc == EXIT["usage"] and two in r.err and "found 2 lines" in r.err and secret not in r.err + r.out, r
    r = cli("--server", acme.address, "--api-key-file", "/nonexistent/key", "keys", "list")
    assert r.rc == EXIT["usage"] and "/nonexistent/key: no such file" in r.err, r
    r = cli("--server", acme.address, "--api-key-file", key_file, "--api-key", secret, "keys", "list")
    assert r.rc == EXIT["usage"] and "not both" in r.err, r


# --- contexts -----------------------------------------------------------------------------------

def test_contexts(acme, tmp_path):
    down = f"127.0.0.1:{free_port()}"
    # A relative credential path is relative to the config file.
    (tmp_path / "operator").write_text(pathlib.Path(acme.operator_file).read_text())
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "current-context": "dev",
        "contexts": {
            "dev": {"server": acme.address, "operator-credential-file": "operator", "timeout": 20},
            "down": {"server": down, "timeout": 5},
            "alice": {"server": acme.address, "service-credential-file": acme.console_file,
                      "tenant": acme.tenant, "user": "alice"},
        },
    }))
    env = base_env(APIKEYS_CONFIG=str(config))

    assert ok(cli("--json", "health", env=env)).json()["server"] == acme.address
    # The context's operator credential file, with no credential on the command line.
    users = ok(cli("--json", "users", "create", "carol", "--tenant", acme.tenant, env=env)).json()
    assert users["userId"] == "carol"
    assert ok(cli("--context", "alice", "--json", "users", "list", env=env)).json()["users"]

    # --context and APIKEYS_CONTEXT pick another; a flag beats the context.
    r = cli("--context", "down", "health", env=env)
    assert r.rc == EXIT["unavailable"] and down in r.err, r
    assert cli("health", env={**env, "APIKEYS_CONTEXT": "down"}).rc == EXIT["unavailable"]
    ok(cli("--context", "down", "--server", acme.address, "health", env=env))
    assert cli("health", env={**env, "APIKEYS_SERVER": acme.address, "APIKEYS_CONTEXT": "down"}).rc == 0

    listed = ok(cli("--json", "contexts", env=env)).json()
    assert listed["current"] == "dev"
    assert [c["name"] for c in listed["contexts"]] == ["alice", "dev", "down"]
    table = ok(cli("--context", "down", "contexts", env=env)).out
    assert any(line.startswith("*") and "down" in line for line in table.splitlines()), table

    r = cli("--context", "nope", "health", env=env)
    assert r.rc == EXIT["usage"] and "no context 'nope'" in r.err and "alice, dev, down" in r.err, r
    config.write_text(json.dumps({"contexts": {"dev": {"server": acme.address, "tls_ca": "x"}}}))
    r = cli("health", env=env)
    assert r.rc == EXIT["usage"] and "unknown key 'tls_ca'" in r.err, r
    config.write_text("{not json")
    r = cli("health", env=env)
    assert r.rc == EXIT["usage"] and "not valid JSON" in r.err, r
    r = cli("--context", "dev", "health")  # no config file at all
    assert r.rc == EXIT["usage"] and "no config file" in r.err, r


# --- help, completion, version ------------------------------------------------------------------

def test_help_shows_the_commands_own_options_first():
    text = ok(cli("keys", "revoke", "--help")).out
    assert "--reason" in text and "--yes" in text, text
    own, global_ = text.index("--reason"), text.index("GLOBAL OPTIONS")
    assert own < global_ < text.index("--server"), text


def test_completion_scripts():
    for shell, marker in (("bash", "complete"), ("zsh", "#compdef"), ("fish", "complete")):
        script = ok(cli("--generate-completion-script", shell)).out
        assert marker in script and "apikeys" in script, (shell, script[:500])


def test_version_is_the_servers(acme):
    version = ok(cli("--version")).out.strip()
    assert version and version[0].isdigit(), version
    assert ok(cli("--server", acme.address, "--json", "health")).json()["version"] == version
