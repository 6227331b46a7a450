"""Operating apikeysd (issue 11) over the real binary: SIGHUP reloads (TLS certificate,
credential files) without dropping connections, structured logs and the access log,
/metrics, /healthz and /readyz over HTTP, start-up validation (exit 64 with one line),
bind failures, the config file and environment with their precedence, --version."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from apikeys_client import Client, RpcError, StatusCode, operator, pb, service
from conftest import apikeysd_path, start_server
from helpers import run, secret_file

OPERATOR_SECRET = "operations-test-operator-credential-0123456789"
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    """Polls until ``predicate()`` is truthy (margins for a loaded 2-core CI)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stderr_text(srv) -> str:
    with open(srv.stderr_path, errors="replace") as f:
        return f.read()


def json_lines(srv) -> list[dict]:
    """Every stderr line parsed as JSON: a line that is not JSON fails the test."""
    lines = []
    for line in stderr_text(srv).splitlines():
        if line.strip():
            lines.append(json.loads(line))
    return lines


def http_port(srv) -> int:
    line = wait_for(lambda: next((l for l in srv.stdout_lines if l.strip().startswith("http: http://")), None),
                    what="the http line")
    return int(line.split("http://", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1])


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


# --- SIGHUP ---------------------------------------------------------------------------

def _openssl(directory: pathlib.Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


def _server_certificate(d: pathlib.Path, name: str, serial: int) -> None:
    (d / "server.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                                  "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(d, "req", "-new", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=localhost")
    _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-set_serial", str(serial), "-days", "2", "-out", f"{name}.pem", "-extfile", "server.ext")


@pytest.fixture
def certificates(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    d = tmp_path / "certs"
    d.mkdir()
    _openssl(d, "req", "-x509", *EC_KEY, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ops test ca")
    _server_certificate(d, "first", 1001)
    _server_certificate(d, "second", 2002)
    shutil.copy(d / "first.pem", d / "server.pem")
    shutil.copy(d / "first.key", d / "server.key")
    return d


def peer_serial(address, ca: pathlib.Path) -> int:
    """The serial number of the certificate a new TLS connection is shown."""
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(address, timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return int(tls.getpeercert()["serialNumber"], 16)


def test_sighup_new_certificate_for_new_connections_open_ones_keep_working(server_factory, certificates):
    d = certificates
    srv = server_factory("--tls-certificate", str(d / "server.pem"), "--tls-private-key", str(d / "server.key"),
                         "--operator-credential-file", secret_file(OPERATOR_SECRET))
    assert peer_serial(srv.address, d / "ca.pem") == 1001
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))

    async def main():
        async with await Client.connect(*srv.address, ssl=ctx, credential=operator(OPERATOR_SECRET)) as open_before:
            assert (await open_before.health.check()).status == pb.HealthCheckResponse.SERVING
            # Replace the files in place, as a certificate renewal does, then SIGHUP.
            shutil.copy(d / "second.pem", d / "server.pem")
            shutil.copy(d / "second.key", d / "server.key")
            srv.process.send_signal(signal.SIGHUP)
            wait_for(lambda: "reloaded TLS" in stderr_text(srv), what="the reload log line")
            assert srv.process.poll() is None, "SIGHUP stopped the server"
            assert peer_serial(srv.address, d / "ca.pem") == 2002
            # The connection opened before the reload still works, on its old session.
            assert (await open_before.health.check()).status == pb.HealthCheckResponse.SERVING
            await open_before.directory.create_tenant(tenant_id="acme", name="Acme")

    run(main())
    # A broken certificate file on the next SIGHUP changes nothing and says so.
    (d / "server.pem").write_text("not a certificate\n")
    srv.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "TLS not reloaded" in stderr_text(srv), what="the refused reload line")
    assert peer_serial(srv.address, d / "ca.pem") == 2002
    assert srv.stop() == 0


def test_sighup_reloads_credential_files_and_logs_names_only(server_factory, tmp_path):
    old_secret = "operations-old-service-secret-0123456789abcdef"
    new_secret = "operations-new-service-secret-0123456789abcdef"
    creds = tmp_path / "services"
    creds.write_text(f"gateway verify {old_secret}\nbilling act {old_secret}x\n")
    os.chmod(creds, 0o600)
    srv = server_factory("--service-credentials-file", str(creds))

    async def verify_with(secret):
        async with await Client.connect(*srv.address, credential=service(secret)) as c:
            try:
                await c.verification.verify(secret="ak_nothing")
            except RpcError as e:
                return e.reason  # "unknown_credential" when the credential is refused
            return "ok"

    async def main():
        async with await Client.connect(*srv.address, credential=service(old_secret)) as kept:
            before = await verify_with(old_secret)
            assert before != "unknown_credential", before
            creds.write_text(f"gateway verify {new_secret}\nauditor verify {new_secret}y\n")
            srv.process.send_signal(signal.SIGHUP)
            wait_for(lambda: "reloaded credentials" in stderr_text(srv), what="the credentials reload line")
            assert await verify_with(old_secret) == "unknown_credential"
            assert await verify_with(new_secret) != "unknown_credential"
            # The connection stays open; its calls now need the new secret.
            with pytest.raises(RpcError) as refused:
                await kept.verification.verify(secret="ak_nothing")
            assert refused.value.reason == "unknown_credential", refused.value

    run(main())
    err = stderr_text(srv)
    line = next(l for l in err.splitlines() if "reloaded credentials" in l)
    assert "added=auditor" in line and "removed=billing" in line and "changed=gateway" in line, line
    assert old_secret not in err and new_secret not in err
    assert srv.process.poll() is None
    assert srv.stop() == 0


def test_sighup_on_a_plain_server_does_not_stop_it(server_factory):
    srv = server_factory()
    srv.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded credentials" in stderr_text(srv), what="the reload line")
    time.sleep(0.3)
    assert srv.process.poll() is None, f"exit {srv.process.returncode}"
    assert srv.stop() == 0


# --- logs -----------------------------------------------------------------------------

def _some_calls(srv):
    async def main():
        async with await Client.connect(*srv.address, credential=operator(srv.operator_credential)) as op:
            await op.health.check()
            await op.directory.create_tenant(tenant_id="acme", name="Acme")
            await op.directory.create_user(tenant_id="acme", user_id="alice", roles=[pb.ROLE_DEVELOPER], licensed=True)
            with pytest.raises(RpcError):
                await op.directory.create_tenant(tenant_id="acme", name="Acme again")
    run(main())


def test_access_log_json_one_line_per_call(server_factory):
    srv = server_factory("--log-format", "json", "--log-level", "debug")
    _some_calls(srv)
    assert srv.stop() == 0
    lines = json_lines(srv)
    calls = [l for l in lines if l["msg"] == "call"]
    methods = [c["method"] for c in calls]
    assert methods.count("/apikeys.v1.Directory/CreateTenant") == 2, methods
    create_user = next(c for c in calls if c["method"] == "/apikeys.v1.Directory/CreateUser")
    assert create_user["status"] == "OK" and create_user["caller"] == "operator", create_user
    for key in ("ts", "level", "duration_ms", "peer", "call_id"):
        assert key in create_user, (key, create_user)
    assert any(c["status"] == "ALREADY_EXISTS" for c in calls), calls
    # Debug: connections; start-up lines say where data lives and what listens.
    assert any(l["msg"] == "connection opened" for l in lines)
    listening = next(l for l in lines if l["msg"] == "listening")
    assert listening["data"].endswith("apikeys.sqlite") and listening["address"].startswith("127.0.0.1:")


def test_access_log_off(server_factory):
    srv = server_factory("--access-log", "off")
    _some_calls(srv)
    assert srv.stop() == 0
    err = stderr_text(srv)
    assert "msg=call " not in err, err[-2000:]
    assert "msg=listening" in err  # logfmt by default


# --- HTTP: /metrics, /healthz, /readyz --------------------------------------------------

def test_metrics_healthz_and_readyz_following_the_store(server_factory):
    srv = server_factory("--http-port", "0")
    port = http_port(srv)
    _some_calls(srv)

    async def verify_once():
        async with await Client.connect(*srv.address, credential=operator(srv.operator_credential)) as op:
            with pytest.raises(RpcError):
                await op.verification.verify(secret="ak_bogus")
    run(verify_once())
    assert http_get(port, "/healthz")[0] == 200
    assert http_get(port, "/readyz") == (200, "ready\n")
    status, metrics = http_get(port, "/metrics")
    assert status == 200
    for series in ('apikeys_calls_total{method="/apikeys.v1.Directory/CreateTenant",status="OK"} 1',
                   'apikeys_calls_total{method="/apikeys.v1.Directory/CreateTenant",status="ALREADY_EXISTS"} 1',
                   "apikeys_call_duration_seconds_bucket", "apikeys_connections_open", "apikeys_verify_total{outcome=",
                   "apikeys_index_keys"):
        assert series in metrics, (series, metrics)
    wait_for(lambda: "apikeys_usage_flush_lag_seconds" in http_get(port, "/metrics")[1], what="the flush metrics")

    # The data directory goes away (a lost volume): not ready, and Health/Check agrees.
    moved = srv.data_dir + "-moved"
    os.rename(srv.data_dir, moved)
    try:
        status, body = http_get(port, "/readyz")
        assert status == 503 and "not ready" in body, (status, body)
        assert http_get(port, "/healthz")[0] == 200

        async def health():
            async with await Client.connect(*srv.address) as c:
                return (await c.health.check()).status
        assert run(health()) == pb.HealthCheckResponse.NOT_SERVING
    finally:
        os.rename(moved, srv.data_dir)
    assert http_get(port, "/readyz") == (200, "ready\n")
    assert srv.stop() == 0


# --- validation, bind failures, config ---------------------------------------------------

@pytest.mark.parametrize("args,named", [
    (["--port", "99999"], "--port 99999"),
    (["--log-level", "verbose"], "--log-level verbose"),
    (["--log-format", "xml"], "--log-format xml"),
    (["--http-port", "70000"], "--http-port 70000"),
    (["--idle-timeout", "0"], "--idle-timeout 0"),
])
def test_bad_values_exit_64_with_one_line_and_open_nothing(tmp_path, args, named):
    data = tmp_path / "data"
    proc = subprocess.run([str(apikeysd_path()), "--data-dir", str(data), *args], capture_output=True, timeout=30)
    assert proc.returncode == 64, (proc.returncode, proc.stderr)
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "allowed" in lines[0], lines
    assert not data.exists(), "the data directory was created before validation passed"


def test_bind_failure_names_the_address(server_factory, tmp_path):
    first = server_factory()
    proc = subprocess.run([str(apikeysd_path()), "--data-dir", str(tmp_path / "second"), "--port", str(first.port)],
                          capture_output=True, timeout=30)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert f"cannot listen on 127.0.0.1:{first.port}" in lines[0] and "in use" in lines[0] and "--port" in lines[0], lines


def test_data_directory_that_cannot_be_made_is_one_line(tmp_path):
    proc = subprocess.run([str(apikeysd_path()), "--data-dir", "/proc/apikeys-data", "--port", "0"],
                          capture_output=True, timeout=30)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "/proc/apikeys-data" in lines[0], lines


def test_version():
    for binary in (apikeysd_path(), apikeysd_path().parent / "apikeys-conformance"):
        proc = subprocess.run([str(binary), "--version"], capture_output=True, timeout=30)
        assert proc.returncode == 0 and proc.stdout.decode().strip() == "0.1.0", (binary, proc)


def test_config_file_and_environment_precedence(tmp_path):
    config = tmp_path / "apikeysd.toml"
    config.write_text('# settings\nlog-format = "json"\naccess_log = "off"\nlog-level = "info"  # comment\n')
    data = tmp_path / "data"
    data.mkdir()

    def start(env: dict, *args):
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            return start_server(str(data), "--config", str(config), *args)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    # File only: JSON lines, no access log. The CLI's client certificate variables are not
    # the server's: a shell set up for the CLI starts a plain server.
    srv = start({"APIKEYS_TLS_CERTIFICATE": "/nonexistent/client.pem", "APIKEYS_TLS_PRIVATE_KEY": "/nonexistent/client.key"})
    assert any("tls: off" in line for line in srv.stdout_lines), srv.stdout_lines
    run(_health(srv))
    assert srv.stop() == 0
    lines = json_lines(srv)
    assert not [l for l in lines if l["msg"] == "call"]
    os.truncate(srv.stderr_path, 0)
    # Environment over file: the access log is on.
    srv = start({"APIKEYS_ACCESS_LOG": "on"})
    run(_health(srv))
    assert srv.stop() == 0
    assert [l for l in json_lines(srv) if l["msg"] == "call"]
    os.truncate(srv.stderr_path, 0)
    # Flag over environment: off again, and logfmt over the file's json.
    srv = start({"APIKEYS_ACCESS_LOG": "on"}, "--access-log", "off", "--log-format", "logfmt")
    run(_health(srv))
    assert srv.stop() == 0
    err = stderr_text(srv)
    assert "msg=listening" in err and "msg=call " not in err, err[-1500:]

    # A bad value in the file: exit 64, one line naming the flag and value.
    config.write_text("port = 99999\n")
    proc = subprocess.run([str(apikeysd_path()), "--config", str(config), "--data-dir", str(tmp_path / "d2")],
                          capture_output=True, timeout=30)
    assert proc.returncode == 64 and "--port 99999" in proc.stderr.decode(), proc
    config.write_text("colour = \"blue\"\n")
    proc = subprocess.run([str(apikeysd_path()), "--config", str(config), "--data-dir", str(tmp_path / "d2")],
                          capture_output=True, timeout=30)
    assert proc.returncode == 64 and "unknown setting 'colour'" in proc.stderr.decode(), proc


async def _health(srv):
    async with await Client.connect(*srv.address) as c:
        await c.health.check()
