"""The real ``apikeysd`` and its files (issue 9, findings 6, 10 and 11; X18, X21):

- secrets are never taken from argv (``ps`` shows argv to every user): the old options stop
  the start with exit 64 and a pointer to the file options;
- service credentials come from ``--service-credentials-file`` (NAME SCOPE[:TENANT,...] SECRET)
  or the environment, each with its scope;
- the generated operator credential is printed once, or only written to a new 0600 file;
- the data directory is 0700 and the SQLite files 0600 under umask 022;
- a second apikeysd on the same data directory refuses to start, naming the first's PID,
  and the lock goes with the first process, even after SIGKILL.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time

import pytest

from apikeys_client import Client, RpcError, StatusCode, operator, pb, service
from conftest import apikeysd_path, start_server
from helpers import run, secret_file

VERIFY_SECRET = "verify-scope-secret-0123456789abcdefghij"
ACT_SECRET = "act-scope-secret-0123456789abcdefghijklmn"
ACME_SECRET = "acme-only-secret-0123456789abcdefghijklm"
OPERATOR_SECRET = "file-operator-secret-0123456789abcdefghij"


def apikeysd(*args: str, env: dict | None = None, umask: int | None = None, timeout: float = 30):
    """Runs apikeysd to its exit (for starts that must fail)."""
    return subprocess.run([str(apikeysd_path()), "--port", "0", *args], capture_output=True, timeout=timeout,
                          env=env, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


@pytest.mark.parametrize("args", [
    ("--service-credential", "console=" + ACT_SECRET),
    ("--service-credential=console=" + ACT_SECRET,),
    ("--operator-credential", OPERATOR_SECRET),
])
def test_x18_no_secret_on_the_command_line(tmp_path, args):
    """Finding 6: `--service-credential NAME=SECRET` put secrets in `ps`."""
    proc = apikeysd("--data-dir", str(tmp_path / "data"), *args)
    assert proc.returncode == 64, proc
    err = proc.stderr.decode()
    assert "-file" in err and "ps" in err, err
    # The refusal does not repeat the secret, and nothing was created.
    assert ACT_SECRET not in err and OPERATOR_SECRET not in err
    assert not (tmp_path / "data").exists()


def test_x18_credentials_file_gives_each_credential_its_scope(tmp_path):
    creds = secret_file(
        "# NAME  SCOPE[:TENANT,...]  SECRET\n"
        "\n"
        f"edge    verify   {VERIFY_SECRET}\n"
        f"console act      {ACT_SECRET}\n"
        f"\tbilling act:acme {ACME_SECRET}  \n")
    data = tmp_path / "data"
    data.mkdir()
    srv = start_server(str(data), "--service-credentials-file", creds,
                       "--operator-credential-file", secret_file(f"# the operator\n{OPERATOR_SECRET}\n"))

    async def main():
        async with await Client.connect(*srv.address) as c:
            op = c.with_auth(operator(OPERATOR_SECRET))
            for tenant in ("acme", "globex"):
                await op.directory.create_tenant(tenant_id=tenant, name=tenant)
                await op.directory.create_user(tenant_id=tenant, user_id="alice", roles=[pb.ROLE_TENANT_ADMIN],
                                               licensed=True)
            listed = {cred.id: cred for cred in (await op.directory.list_credentials()).credentials}
            assert listed["configured:edge"].scope == pb.CREDENTIAL_SCOPE_VERIFY
            assert listed["configured:console"].scope == pb.CREDENTIAL_SCOPE_ACT
            assert list(listed["configured:billing"].tenants) == ["acme"]
            assert all(cred.configured for cred in listed.values() if cred.id.startswith("configured:"))

            # verify: Verify only, never acting for a user (X18).
            with pytest.raises(RpcError) as refused:
                await c.with_auth(service(VERIFY_SECRET), tenant="acme", user="alice").directory.list_users()
            assert refused.value.code == StatusCode.PERMISSION_DENIED
            with pytest.raises(RpcError) as unknown_key:
                await c.with_auth(service(VERIFY_SECRET)).verification.verify(secret="aks_nothing")
            assert unknown_key.value.code == StatusCode.UNAUTHENTICATED
            # act: everywhere; act:acme only in acme.
            for tenant in ("acme", "globex"):
                await c.with_auth(service(ACT_SECRET), tenant=tenant, user="alice").directory.list_users()
            await c.with_auth(service(ACME_SECRET), tenant="acme", user="alice").directory.list_users()
            with pytest.raises(RpcError) as elsewhere:
                await c.with_auth(service(ACME_SECRET), tenant="globex", user="alice").directory.list_users()
            assert elsewhere.value.code == StatusCode.PERMISSION_DENIED

    try:
        run(main())
    finally:
        assert srv.stop() == 0


@pytest.mark.parametrize("line, says", [
    (f"edge {VERIFY_SECRET}\n", "3 fields"),
    (f"edge admin {VERIFY_SECRET}\n", "verify or act"),
    (f"edge verify:acme {VERIFY_SECRET}\n", "scope act"),
    ("edge act short-secret\n", "32"),
])
def test_x18_a_bad_credentials_file_stops_the_start_naming_the_line(tmp_path, line, says):
    creds = secret_file("# comment\n" + line)
    proc = apikeysd("--data-dir", str(tmp_path / "data"), "--service-credentials-file", creds)
    assert proc.returncode == 64, proc
    err = proc.stderr.decode()
    assert f"{creds}:2" in err and says in err, err
    assert VERIFY_SECRET not in err


def test_x18_environment_credentials_default_to_act_or_state_a_scope(tmp_path):
    env = {**os.environ, "APIKEYS_SERVICE_CREDENTIALS": f"console={ACT_SECRET},edge:verify={VERIFY_SECRET}",
           "APIKEYS_OPERATOR_CREDENTIAL": OPERATOR_SECRET}
    data = tmp_path / "data"
    proc = subprocess.Popen([str(apikeysd_path()), "--port", "0", "--data-dir", str(data)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        address = None
        for raw in proc.stdout:
            m = re.search(r"listening on (\S+):(\d+)", raw.decode())
            if m:
                address = (m.group(1), int(m.group(2)))
                break
        assert address

        async def main():
            async with await Client.connect(*address) as c:
                op = c.with_auth(operator(OPERATOR_SECRET))
                listed = {cred.id: cred.scope for cred in (await op.directory.list_credentials()).credentials}
                assert listed["configured:console"] == pb.CREDENTIAL_SCOPE_ACT
                assert listed["configured:edge"] == pb.CREDENTIAL_SCOPE_VERIFY
        run(main())
    finally:
        proc.terminate()
        proc.wait(15)


def test_x18_generated_operator_credential_is_printed_once(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    srv = start_server(str(data))
    try:
        secret = srv.operator_credential
        assert secret and secret.startswith("ako_")
        time.sleep(0.3)  # any line printed after it
        out = "\n".join(srv.stdout_lines)
        assert out.count(secret) == 1, out  # it used to come twice (an "export ..." hint)

        async def main():
            async with await Client.connect(*srv.address) as c:
                events = (await c.with_auth(operator(secret)).events.list(page_size=100)).events
                created = [e for e in events if e.action == "credential.created"]
                assert len(created) == 1 and created[0].details["kind"] == "operator", events
                assert created[0].tenant_id == "" and created[0].details["via"] == "bootstrap"
                assert secret not in str(events) and secret[-24:] not in str(events)
        run(main())
    finally:
        assert srv.stop() == 0


def test_x18_operator_credential_out_writes_a_private_file_and_prints_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "operator.secret"
    srv = start_server(str(data), "--operator-credential-out", str(out))
    try:
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
        secret = out.read_text().strip()
        assert secret.startswith("ako_")
        assert srv.operator_credential is None
        assert secret not in "\n".join(srv.stdout_lines) and secret[-24:] not in "\n".join(srv.stdout_lines)

        async def main():
            async with await Client.connect(*srv.address) as c:
                await c.with_auth(operator(secret)).directory.list_credentials()
        run(main())
    finally:
        assert srv.stop() == 0
    # A restart leaves the file alone: it has nothing new to write.
    again = start_server(str(data), "--operator-credential-out", str(out))
    try:
        assert out.read_text().strip() == secret
    finally:
        assert again.stop() == 0


def test_x18_operator_credential_out_never_overwrites(tmp_path):
    out = tmp_path / "operator.secret"
    out.write_text("keep me\n")
    proc = apikeysd("--data-dir", str(tmp_path / "data"), "--operator-credential-out", str(out))
    assert proc.returncode != 0, proc
    assert "never overwritten" in proc.stderr.decode(), proc.stderr
    assert out.read_text() == "keep me\n"
    assert b"ako_" not in proc.stdout


def test_files_private_under_umask_022(tmp_path):
    """Finding 11: drwxr-xr-x and -rw-r--r-- under the default umask."""
    data = tmp_path / "data"  # apikeysd makes it
    env = {**os.environ, "APIKEYS_SERVICE_CREDENTIALS": f"console={ACT_SECRET}"}
    proc = subprocess.Popen([str(apikeysd_path()), "--port", "0", "--data-dir", str(data)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=lambda: os.umask(0o022))
    try:
        secret = address = None
        for raw in proc.stdout:
            line = raw.decode()
            m = re.search(r"listening on (\S+):(\d+)", line)
            if m:
                address = (m.group(1), int(m.group(2)))
            if line.startswith("operator credential:"):
                secret = line.split(":", 1)[1].strip()
                break

        async def main():
            async with await Client.connect(*address) as c:
                await c.with_auth(operator(secret)).directory.create_tenant(tenant_id="acme", name="Acme")
        run(main())
        assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
        names = sorted(os.listdir(data))
        for name in ("apikeys.sqlite", "apikeys.sqlite-wal", "apikeys.sqlite-shm", "apikeysd.lock"):
            assert name in names, names
        for name in names:
            assert stat.S_IMODE(os.stat(data / name).st_mode) == 0o600, (name, oct(os.stat(data / name).st_mode))
    finally:
        proc.terminate()
        proc.wait(15)


def test_x21_a_second_apikeysd_on_one_data_directory_refuses_to_start(tmp_path):
    """Finding 10: two servers on one directory, and a revocation through one did not reach
    the other. The second now stops at once, naming the first's PID; the lock goes with the
    first process however it ends (SIGKILL here)."""
    data = tmp_path / "data"
    data.mkdir()
    first = start_server(str(data))
    try:
        second = apikeysd("--data-dir", str(data))
        assert second.returncode != 0
        err = second.stderr.decode()
        assert f"pid {first.process.pid}" in err, err
        assert (data / "apikeysd.lock").read_text().strip() == str(first.process.pid)
        assert b"listening" not in second.stdout
    finally:
        first.process.kill()
        first.process.wait(10)
    third = start_server(str(data))
    try:
        assert (data / "apikeysd.lock").read_text().strip() == str(third.process.pid)
    finally:
        assert third.stop() == 0
