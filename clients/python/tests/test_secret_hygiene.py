"""Secret hygiene (X7, X10): no API-key secret and no service or operator credential
appears in the server's output (at trace level), in any event, in any error returned, or in
the database files. The only exception is the operator credential shown once on the first
start, on one line ("operator credential: ...").
"""

from __future__ import annotations

import glob
import os

import pytest

from apikeys_client import Client, RpcError, StatusCode, bearer, operator, pb, service
from conftest import start_server
from helpers import run, secret_file
from reliability import SERVICE_ARGS, SERVICE_SECRET, all_events

OWN_OPERATOR_SECRET = "own-operator-credential-for-the-hygiene-test-0123456789"


def tamper(secret: str) -> str:
    """The same secret with one character of its random part changed."""
    i = len(secret) - 10
    return secret[:i] + ("A" if secret[i] != "A" else "B") + secret[i + 1:]


def needles(secret: str) -> list[str]:
    """Strings whose presence means the secret leaked: the secret, and its random tail
    (an API-key secret starts with its key ID, which may be shown)."""
    return [secret, secret[-24:]]


class Recorder:
    """Runs calls, keeping every error message and every response for the checks."""

    def __init__(self):
        self.errors: list[str] = []
        self.responses: list[bytes] = []

    async def ok(self, coro):
        resp = await coro
        self.responses.append(resp.SerializeToString())
        return resp

    async def either(self, coro):
        try:
            return await self.ok(coro)
        except RpcError as exc:
            self.errors.append(f"{exc} {exc.message} {exc.raw_details!r}")
            return exc

    async def fails(self, coro, *codes):
        try:
            resp = await coro
        except RpcError as exc:
            self.errors.append(f"{exc} {exc.message} {exc.raw_details!r}")
            if codes:
                assert exc.code in codes, exc
            return exc
        raise AssertionError(f"expected an error, got {resp}")


async def every_operation(srv, rec: Recorder) -> dict:
    """Every method, good and bad, with credentials right and wrong. Returns the secrets."""
    secrets = {"operator (generated)": srv.operator_credential, "operator (configured)": OWN_OPERATOR_SECRET,
               "service (configured)": SERVICE_SECRET}
    c = await Client.connect(*srv.address, timeout=10)
    op = c.with_auth(operator(srv.operator_credential))
    await rec.ok(op.health.check())
    await rec.ok(op.directory.create_tenant(tenant_id="acme", name="Acme"))
    await rec.ok(op.directory.create_tenant(tenant_id="other", name="Other"))
    await rec.ok(op.directory.create_user(tenant_id="acme", user_id="alice", display_name="Alice",
                                          roles=[pb.ROLE_TENANT_ADMIN], licensed=True))
    await rec.ok(op.directory.create_user(tenant_id="acme", user_id="bob", display_name="Bob",
                                          roles=[pb.ROLE_DEVELOPER], licensed=True))
    await rec.ok(op.directory.create_user(tenant_id="acme", user_id="carol", display_name="Carol",
                                          roles=[pb.ROLE_DEVELOPER], licensed=True))
    created = await rec.ok(op.directory.create_service_credential(name="console", scope=pb.CREDENTIAL_SCOPE_ACT))
    secrets["service (created)"] = created.secret
    # X18: the credential lifecycle; the audit log (tenant "") is checked with the other events.
    rotated = await rec.ok(op.directory.rotate_credential(credential_id=created.credential.id))
    secrets["service (rotated)"] = rotated.secret
    second_op = await rec.ok(op.directory.create_operator_credential(name="second"))
    secrets["operator (created)"] = second_op.secret
    await rec.ok(op.directory.list_credentials())
    await rec.ok(op.directory.revoke_credential(credential_id=rotated.credential.id))
    await rec.fails(c.with_auth(service(rotated.secret)).verification.verify(secret="x"), StatusCode.UNAUTHENTICATED)
    await rec.fails(op.directory.revoke_credential(credential_id=second_op.secret), StatusCode.NOT_FOUND)
    own_op = c.with_auth(operator(OWN_OPERATOR_SECRET))
    await rec.ok(own_op.directory.create_user(tenant_id="other", user_id="olga", display_name="Olga",
                                              roles=[pb.ROLE_TENANT_ADMIN]))

    alice = c.with_auth(service(created.secret), tenant="acme", user="alice")
    bob = c.with_auth(service(SERVICE_SECRET), tenant="acme", user="bob")
    carol = c.with_auth(service(created.secret), tenant="acme", user="carol")
    verifier = c.with_auth(service(created.secret), tenant=None, user=None)

    # Settings and roles (R2, R3, R5, R14-R16).
    await rec.ok(alice.tenant_settings.get())
    await rec.fails(bob.keys.generate(name="too early"), StatusCode.FAILED_PRECONDITION)
    await rec.ok(alice.tenant_settings.update(api_keys_enabled=True, max_keys_per_user=20, max_expiry_seconds=86400))
    await rec.fails(alice.tenant_settings.update(max_keys_per_user=5000), StatusCode.INVALID_ARGUMENT)
    await rec.fails(bob.tenant_settings.update(api_keys_enabled=False), StatusCode.PERMISSION_DENIED)
    await rec.ok(alice.directory.assign_role(user_id="alice", role=pb.ROLE_DEVELOPER))
    await rec.ok(alice.directory.remove_role(user_id="carol", role=pb.ROLE_DEVELOPER))
    await rec.ok(alice.directory.assign_role(user_id="carol", role=pb.ROLE_DEVELOPER))
    await rec.ok(alice.directory.set_license(user_id="carol", licensed=False))
    await rec.fails(carol.keys.generate(name="no license"), StatusCode.PERMISSION_DENIED)
    await rec.ok(alice.directory.set_license(user_id="carol", licensed=True))
    await rec.ok(alice.directory.get_user(user_id="bob"))
    await rec.ok(alice.directory.list_users())

    # Keys.
    keys = {}
    for owner, client in (("bob", bob), ("carol", carol), ("alice", alice)):
        for i in range(3):
            gen = await rec.ok(client.keys.generate(name=f"{owner} key {i}", expires_in_seconds=3600))
            keys[f"{owner}{i}"] = gen
            secrets[f"api key {owner}{i}"] = gen.secret
    b0, b1, b2 = keys["bob0"], keys["bob1"], keys["bob2"]
    await rec.ok(verifier.verification.verify(secret=b0.secret))
    as_key = c.with_auth(bearer(b0.secret), tenant=None, user=None)
    await rec.ok(as_key.keys.list())
    await rec.ok(as_key.keys.get(key_id=b1.key.id))
    await rec.ok(bob.keys.list(search="key"))
    await rec.ok(alice.keys.list(search="BOB", sort_by=pb.KEY_SORT_FIELD_NAME))
    await rec.ok(bob.keys.get(key_id=b0.key.id))
    await rec.ok(bob.keys.rename(key_id=b0.key.id, name="renamed"))
    await rec.fails(carol.keys.rename(key_id=b0.key.id, name="not mine"), StatusCode.PERMISSION_DENIED)
    await rec.fails(carol.keys.get(key_id=b0.key.id), StatusCode.PERMISSION_DENIED)
    await rec.ok(bob.keys.revoke(key_id=b1.key.id, reason="leaked"))
    await rec.fails(bob.keys.revoke(key_id=b1.key.id), StatusCode.FAILED_PRECONDITION)
    await rec.ok(alice.keys.revoke_many(key_ids=[keys["carol0"].key.id, b1.key.id, "key_doesnotexist"]))
    await rec.ok(carol.keys.revoke_many(key_ids=[b2.key.id]))  # permission denied per key
    await rec.fails(alice.keys.delete(key_id=b2.key.id), StatusCode.PERMISSION_DENIED)
    await rec.ok(bob.keys.delete(key_id=b2.key.id))
    await rec.fails(bob.keys.get(key_id=b2.key.id), StatusCode.NOT_FOUND)

    # X19: a secret pasted where text goes: refused in names and identifiers (metadata too),
    # redacted in a revoke reason; never echoed, stored or logged.
    pasted = keys["alice0"].secret
    await rec.fails(bob.keys.generate(name=f"prod {pasted}"), StatusCode.INVALID_ARGUMENT)
    await rec.fails(bob.keys.rename(key_id=b0.key.id, name=pasted), StatusCode.INVALID_ARGUMENT)
    await rec.fails(op.directory.create_user(tenant_id="acme", user_id=pasted, display_name="x"), StatusCode.INVALID_ARGUMENT)
    await rec.fails(op.directory.create_tenant(tenant_id="z", name=pasted), StatusCode.INVALID_ARGUMENT)
    await rec.fails(alice.directory.get_user(user_id=pasted), StatusCode.INVALID_ARGUMENT)
    await rec.fails(c.with_auth(service(created.secret), tenant=pasted, user="bob").keys.list(), StatusCode.INVALID_ARGUMENT)
    await rec.fails(c.with_auth(service(created.secret), tenant="acme", user=pasted).keys.list(), StatusCode.INVALID_ARGUMENT)
    await rec.ok(alice.keys.revoke(key_id=keys["alice1"].key.id, reason=f"leaked: {pasted}"))

    # Verification of every kind of bad secret (X8), and failed authentication (X13).
    await rec.fails(verifier.verification.verify(secret=b1.secret), StatusCode.UNAUTHENTICATED)  # revoked
    await rec.fails(verifier.verification.verify(secret=b2.secret), StatusCode.UNAUTHENTICATED)  # deleted
    await rec.fails(verifier.verification.verify(secret=tamper(keys["bob0"].secret)), StatusCode.UNAUTHENTICATED)
    await rec.fails(verifier.verification.verify(secret="apk_" + "x" * 60), StatusCode.UNAUTHENTICATED)
    await rec.fails(verifier.verification.verify(secret=""), StatusCode.UNAUTHENTICATED, StatusCode.INVALID_ARGUMENT)
    await rec.either(bob.verification.verify(secret=b0.secret))  # a service acting for a user
    await rec.fails(c.with_auth(bearer(b1.secret), tenant=None, user=None).keys.list(), StatusCode.UNAUTHENTICATED)
    await rec.fails(c.with_auth(bearer(tamper(b0.secret)), tenant=None, user=None).keys.list(), StatusCode.UNAUTHENTICATED)
    await rec.fails(c.with_auth(bearer(b0.secret), tenant="other", user=None).keys.list(), StatusCode.UNAUTHENTICATED)
    await rec.fails(c.with_auth(service(tamper(created.secret)), tenant="acme", user="bob").keys.list(),
                    StatusCode.UNAUTHENTICATED)
    await rec.fails(c.with_auth(service(tamper(SERVICE_SECRET)), tenant="acme", user="bob").keys.list(),
                    StatusCode.UNAUTHENTICATED)
    await rec.fails(c.with_auth(operator(tamper(srv.operator_credential))).directory.create_tenant(
        tenant_id="x", name="x"), StatusCode.UNAUTHENTICATED)
    await rec.fails(c.with_auth(operator(tamper(OWN_OPERATOR_SECRET))).directory.create_tenant(
        tenant_id="x", name="x"), StatusCode.UNAUTHENTICATED)
    await rec.fails(c.with_auth(b0.secret).keys.list(), StatusCode.UNAUTHENTICATED)  # no scheme
    await rec.fails(c.with_auth("Token " + b0.secret).keys.list(), StatusCode.UNAUTHENTICATED)
    await rec.fails(c.with_auth(service(created.secret), tenant="acme", user=None).keys.list(), StatusCode.UNAUTHENTICATED)
    await rec.fails(c.with_auth(service(created.secret), tenant="acme", user="nobody").keys.list(),
                    StatusCode.UNAUTHENTICATED)
    await rec.fails(alice.with_auth(bearer(b0.secret), tenant=None, user=None).directory.create_tenant(
        tenant_id="y", name="y"), StatusCode.PERMISSION_DENIED)

    # X14: removing a user revokes their keys.
    await rec.ok(op.directory.remove_user(tenant_id="acme", user_id="carol"))
    await rec.fails(verifier.verification.verify(secret=keys["carol1"].secret), StatusCode.UNAUTHENTICATED)

    # Events, every page, and filtered.
    await rec.ok(alice.events.list(page_size=5))
    await rec.ok(alice.events.list(key_id=b0.key.id))
    await rec.ok(alice.events.list(action="key.verify_failed"))
    await c.close()
    return secrets


def find_leaks(text: str, secrets: dict) -> list[str]:
    return [name for name, secret in secrets.items() for needle in needles(secret) if needle in text]


def test_no_secret_in_logs_events_errors_or_database(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    args = ("--log-level", "trace", "--operator-credential-file", secret_file(OWN_OPERATOR_SECRET + "\n"), *SERVICE_ARGS)
    srv = start_server(str(data_dir), *args)
    assert srv.operator_credential, "no operator credential printed on the first start"
    rec = Recorder()
    try:
        secrets = run(every_operation(srv, rec), 60)

        async def events():
            async with await Client.connect(*srv.address) as c:
                alice = c.with_auth(service(SERVICE_SECRET), tenant="acme", user="alice")
                audit = c.with_auth(operator(srv.operator_credential))
                return await all_events(alice) + await all_events(audit)
        first_events = run(events())
    finally:
        assert srv.stop() == 0

    # A restart on the same data: the operator credential is not shown again.
    again = start_server(str(data_dir), *args)
    try:
        assert again.operator_credential is None
        all_evts = run(_events_after_restart(again))
    finally:
        assert again.stop() == 0

    assert len(all_evts) >= len(first_events) > 20
    problems = []
    output_bytes = 0
    # 1. Output: stdout and stderr of both runs. The banner of the first start is the
    #    one place the generated operator credential appears.
    # Finding 6: exactly once (it used to come twice, with an "export ..." hint).
    banner = [line for line in srv.stdout_lines if srv.operator_credential in line]
    assert len(banner) == 1 and banner[0].startswith("operator credential:"), banner
    for run_srv in (srv, again):
        out = "\n".join(line for line in run_srv.stdout_lines if line not in banner)
        with open(run_srv.stderr_path, errors="replace") as f:
            err = f.read()
        output_bytes += len(out) + len(err)
        problems += [f"{name} in the output" for name in find_leaks(out + "\n" + err, secrets)]
    # 2. Events: every field and every detail.
    for event in all_evts:
        text = str(event) + " ".join(f"{k}={v}" for k, v in event.details.items())
        problems += [f"{name} in event {event.id} ({event.action})" for name in find_leaks(text, secrets)]
    # 3. Errors returned, and responses (only Generate and CreateServiceCredential may hold a secret).
    for error in rec.errors:
        problems += [f"{name} in an error: {error[:120]}" for name in find_leaks(error, secrets)]
    # 4. The database files: only hashes are stored (X7).
    for path in glob.glob(os.path.join(str(data_dir), "*")):
        with open(path, "rb") as f:
            blob = f.read().decode("latin-1")
        problems += [f"{name} in {os.path.basename(path)}" for name in find_leaks(blob, secrets)]
    print(f"\n[reliability] secret hygiene: secrets={len(secrets)} events={len(all_evts)} "
          f"errors={len(rec.errors)} output_bytes={output_bytes} problems={len(problems)}")
    assert not problems, "secrets leaked:\n" + "\n".join(sorted(set(problems)))


async def _events_after_restart(srv):
    async with await Client.connect(*srv.address) as c:
        alice = c.with_auth(service(SERVICE_SECRET), tenant="acme", user="alice")
        olga = c.with_auth(service(SERVICE_SECRET), tenant="other", user="olga")
        audit = c.with_auth(operator(OWN_OPERATOR_SECRET))
        return await all_events(alice) + await all_events(olga) + await all_events(audit)


@pytest.mark.parametrize("field", ["revoke key_id", "get key_id", "revoke_many key_ids", "events key_id"])
def test_a_secret_pasted_into_a_key_id_field_is_not_kept(server_factory, field):
    """A user pastes a key's secret where its ID belongs (an easy mistake: the secret starts
    with the ID's characters). X7: the secret must not be stored in an event, which every
    tenant admin can read and which is kept. (The NOT_FOUND message echoes it to the caller
    who sent it; that is reported, not failed.)"""
    srv = server_factory(*SERVICE_ARGS)

    async def main():
        async with await Client.connect(*srv.address) as c:
            from reliability import provision
            t = await provision(srv.address, srv.operator_credential, client=c)
            bob = t.developers["bob"]
            gen = await bob.keys.generate(name="pasted")
            secret = gen.secret
            errors = []
            try:
                if field == "revoke key_id":
                    await bob.keys.revoke(key_id=secret)
                elif field == "get key_id":
                    await bob.keys.get(key_id=secret)
                elif field == "revoke_many key_ids":
                    resp = await bob.keys.revoke_many(key_ids=[secret])
                    errors.append(str(resp))
                else:
                    await t.admin.events.list(key_id=secret)
            except RpcError as exc:
                errors.append(f"{exc.message} {exc.raw_details!r}")
            events = await all_events(t.admin)
            return secret, errors, events

    secret, errors, events = run(main())
    echoed = [e[:100] for e in errors if find_leaks(e, {"s": secret})]
    print(f"\n[reliability] pasted secret ({field}): echoed to the caller: {bool(echoed)}")
    leaks = [f"event {e.id} {e.action}: key_id={e.key_id[:30]}..." for e in events
              if find_leaks(str(e) + str(dict(e.details)), {"s": secret})]
    assert not leaks, f"the pasted secret was kept: {leaks}"


def test_json_logs_at_debug_parse_and_hold_no_secret(tmp_path):
    """Issue 11: at debug, with JSON logs and the access log on, every stderr line is one
    JSON object, every call has its access line, and no secret is in any of them, after a
    SIGHUP reload of the credential files too."""
    import json
    import signal
    import time

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    srv = start_server(str(data_dir), "--log-level", "debug", "--log-format", "json",
                       "--operator-credential-file", secret_file(OWN_OPERATOR_SECRET + "\n"), *SERVICE_ARGS)
    rec = Recorder()
    try:
        secrets = run(every_operation(srv, rec), 60)
        srv.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with open(srv.stderr_path, errors="replace") as f:
                if "reloaded credentials" in f.read():
                    break
            time.sleep(0.05)
    finally:
        assert srv.stop() == 0
    with open(srv.stderr_path, errors="replace") as f:
        text = f.read()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    calls = [line for line in lines if line["msg"] == "call"]
    assert len(calls) >= len(rec.responses) + len(rec.errors), (len(calls), len(rec.responses), len(rec.errors))
    assert any(line["msg"].startswith("reloaded credentials") for line in lines)
    assert any(c.get("key_id") for c in calls), "no access line names a key ID"
    problems = find_leaks(text, secrets)
    print(f"\n[reliability] JSON logs at debug: lines={len(lines)} calls={len(calls)} problems={len(problems)}")
    assert not problems, f"secrets in the JSON logs: {sorted(set(problems))}"
