"""Several apikeysd servers on one PostgreSQL database (issue 10, X21), over the real binaries.

Three servers share a schema of their own in one cluster (``$APIKEYS_TEST_POSTGRES``, else a
throwaway cluster from scripts/postgres-cluster.sh, stopped at the end). Checked:

- every kind of change made through one server reaches the others (X21), timed;
- no rule weakens under concurrency across servers: R16/X3, the last TenantAdmin (R3),
  bulk revoke (R11/X6), usage and excessive use added up over servers (X9);
- failures: SIGKILL of a server under writes, its database connections terminated, and the
  database stopped and restarted (staleness limit, UNAVAILABLE, /readyz, recovery).

Propagation times are printed (``-s`` shows them); scripts/measure-propagation.py measures
them properly.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from apikeys_client import RpcError, StatusCode, bearer, pb, service
from helpers import run
from multiserver import (ClusterUnavailable, Deployment, PgCluster, connect, http_get, http_port, is_principal,
                         is_refused, new_schema, outcome, provision, stderr_text, until, verify_outcome)

#: Generous for a loaded 2-core machine; the measured propagation is printed (and benchmarked).
PROPAGATION_DEADLINE_S = 5.0
DAY = 24 * 3600


@pytest.fixture(scope="module")
def cluster():
    try:
        pg = PgCluster.from_environment_or_start()
    except ClusterUnavailable as exc:
        pytest.fail(f"no PostgreSQL for the several-servers tests: {exc}", pytrace=False)
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def deployment(cluster, tmp_path):
    """Servers on a fresh schema of the shared cluster (start them with ``.start(n, *args)``);
    all stopped, and the schema dropped, at the end."""
    d = Deployment(cluster, new_schema("multi"), str(tmp_path))
    try:
        yield d
    finally:
        problems = d.stop()
        try:
            cluster.psql(f'DROP SCHEMA IF EXISTS "{d.schema}" CASCADE')
        except Exception:  # noqa: BLE001 - a test that stopped the database; not worth failing over
            pass
        assert not problems, "a server did not exit cleanly:\n" + "\n".join(problems)


def report(title: str, timings: dict) -> None:
    print(f"\n[several-servers] {title}: " + ", ".join(f"{k}={v * 1000:.0f}ms" for k, v in timings.items()))


async def everywhere(nodes, check, what: str, timeout: float = PROPAGATION_DEADLINE_S) -> float:
    """Polls ``check(node)`` on every node at once; the slowest node's time."""
    times = await asyncio.gather(*(until(lambda n=n: check(n), timeout, f"{what} on server {i + 1}")
                                   for i, n in enumerate(nodes)))
    return max(times)


def verifies(secret: str, key_id: str | None = None):
    async def check(node):
        result = await verify_outcome(node, secret)
        return is_principal(result) and (key_id is None or result.principal.key_id == key_id)
    return check


def refused(secret: str, reason: str | None = None):
    async def check(node):
        return is_refused(await verify_outcome(node, secret), reason)
    return check


def generate_refused(user: str, code: StatusCode, reason: str):
    async def check(node):
        kind, result = await outcome(node.user(user).keys.generate(name="probe", expires_in_seconds=3600))
        if kind == "ok":  # not seen yet: the admin takes the key back (it may no longer delete), try again
            await node.user("alice").keys.revoke(key_id=result.key.id)
            return False
        return result.code == code and result.reason == reason
    return check


# --- 1. propagation ------------------------------------------------------------------------

def test_x21_every_kind_of_change_through_one_server_reaches_the_others(deployment):
    servers = deployment.start(3)
    timings: dict = {}

    async def main():
        a, b, c = nodes = await connect(servers)
        others = (b, c)
        try:
            await provision(a, admins=("alice",), developers=("bob", "carol"), settle=nodes)
            alice, bob = a.user("alice"), a.user("bob")

            # R18: a key generated on A verifies on B and C.
            k1 = await bob.keys.generate(name="first", expires_in_seconds=DAY)
            timings["generated"] = await everywhere(others, verifies(k1.secret, k1.key.id), "R18 generated key verifies")

            # R19: renamed on A, Get on C shows the new name.
            await bob.keys.rename(key_id=k1.key.id, name="renamed on A")

            async def renamed(node):
                return (await node.user("bob").keys.get(key_id=k1.key.id)).key.name == "renamed on A"
            timings["renamed"] = await everywhere(others, renamed, "R19 new name")

            # R10/X8: revoked on A, refused on B and C.
            await alice.keys.revoke(key_id=k1.key.id, reason="leaked")
            timings["revoked"] = await everywhere(others, refused(k1.secret, "revoked"), "R10 revoked key refused")

            # R13/R19: deleted on A, refused on B and C.
            k2 = await bob.keys.generate(name="to delete", expires_in_seconds=DAY)
            await everywhere(others, verifies(k2.secret), "generated key verifies")
            await bob.keys.delete(key_id=k2.key.id)
            timings["deleted"] = await everywhere(others, refused(k2.secret), "R13 deleted key refused")
            for node in others:
                with pytest.raises(RpcError) as gone:
                    await node.user("bob").keys.get(key_id=k2.key.id)
                assert gone.value.code == StatusCode.NOT_FOUND, gone.value

            # X14: carol removed from the directory on A: her key is refused (revoked) on B and C.
            k3 = await a.user("carol").keys.generate(name="carol's", expires_in_seconds=DAY)
            await everywhere(others, verifies(k3.secret), "carol's key verifies")
            removed = await a.op.directory.remove_user(tenant_id="acme", user_id="carol")
            assert removed.keys_revoked == 1
            timings["user removed"] = await everywhere(others, refused(k3.secret, "revoked"),
                                                       "X14 removed user's key refused as revoked")

            # R4/X13/X14: bob loses the Developer role on A: B and C refuse his Generate, his
            # key still verifies, and Verify's principal no longer lists the role.
            k4 = await bob.keys.generate(name="kept", expires_in_seconds=DAY)
            await everywhere(others, verifies(k4.secret), "bob's key verifies")
            await alice.directory.remove_role(user_id="bob", role=pb.ROLE_DEVELOPER)
            timings["role removed"] = await everywhere(
                others, generate_refused("bob", StatusCode.PERMISSION_DENIED, "not_developer"), "R4 role removed")

            async def principal_without_developer(node):
                result = await verify_outcome(node, k4.secret)
                return is_principal(result) and not any("developer" in r.lower() for r in result.principal.roles)
            timings["role in principal"] = await everywhere(others, principal_without_developer,
                                                            "X14 key still verifies, principal without Developer")
            await alice.directory.assign_role(user_id="bob", role=pb.ROLE_DEVELOPER)

            async def developer_again(node):
                result = await verify_outcome(node, k4.secret)
                return is_principal(result) and any("developer" in r.lower() for r in result.principal.roles)
            timings["role assigned"] = await everywhere(others, developer_again, "R5 role assigned")

            # R17: license taken away on A: B and C refuse bob's Generate.
            await alice.directory.set_license(user_id="bob", licensed=False)
            timings["license removed"] = await everywhere(
                others, generate_refused("bob", StatusCode.PERMISSION_DENIED, "no_license"), "R17 license removed")
            await alice.directory.set_license(user_id="bob", licensed=True)

            # R14/X4: API keys disabled on A: Verify on B and C refused with reason disabled;
            # re-enabled: the key verifies again.
            await alice.tenant_settings.update(api_keys_enabled=False)
            timings["disabled"] = await everywhere(others, refused(k4.secret, "disabled"), "R14 disabled")
            await alice.tenant_settings.update(api_keys_enabled=True)
            timings["re-enabled"] = await everywhere(others, verifies(k4.secret), "X4 re-enabled")

            # X18: a service credential created on A authenticates on B and C; revoked on A,
            # it stops authenticating there.
            created = await a.op.directory.create_service_credential(name="gateway", scope=pb.CREDENTIAL_SCOPE_VERIFY)
            gateway = service(created.secret)

            async def gateway_verify(node):
                try:
                    await node.client.verification.verify(secret=k4.secret, credential=gateway, tenant=None, user=None)
                    return "ok"
                except RpcError as exc:
                    return exc

            async def gateway_works(node):
                return await gateway_verify(node) == "ok"
            timings["credential created"] = await everywhere(others, gateway_works, "X18 new credential works")
            await a.op.directory.revoke_credential(credential_id=created.credential.id)

            async def gateway_refused(node):
                result = await gateway_verify(node)
                return isinstance(result, RpcError) and result.code == StatusCode.UNAUTHENTICATED \
                    and result.reason == "unknown_credential"
            timings["credential revoked"] = await everywhere(others, gateway_refused, "X18 revoked credential refused")

            # The server the changes went through agrees.
            assert is_refused(await verify_outcome(a, k1.secret), "revoked")
            assert is_principal(await verify_outcome(a, k4.secret))
        finally:
            for n in nodes:
                await n.close()

    run(main(), 120)
    report("propagation A -> slowest of B, C", timings)


def test_r12_x17_a_key_revoked_through_one_server_authorizes_no_write_on_another(deployment):
    servers = deployment.start(2)

    async def main():
        a, b = nodes = await connect(servers)
        try:
            await provision(a, developers=("bob",), settle=nodes)
            target = await a.user("bob").keys.generate(name="target", expires_in_seconds=DAY)
            used = []
            for i in range(5):
                key = await a.user("bob").keys.generate(name=f"credential {i}", expires_in_seconds=DAY)
                await everywhere((b,), verifies(key.secret), "the new key verifies on B")
                await a.user("alice").keys.revoke(key_id=key.key.id)  # acknowledged: never usable again
                kind, r = await outcome(b.client.keys.rename(key_id=target.key.id, name=f"renamed by revoked {i}",
                                                             credential=bearer(key.secret), tenant=None, user=None))
                if kind == "ok":
                    used.append(i)
                else:
                    assert r.code == StatusCode.UNAUTHENTICATED, r
            assert not used, f"revoked keys renamed a key through the other server in rounds {used}"
        finally:
            for n in nodes:
                await n.close()

    run(main(), 60)


def test_x18_a_service_credential_revoked_through_one_server_acts_on_no_other(deployment):
    servers = deployment.start(2)

    async def main():
        a, b = nodes = await connect(servers)
        try:
            await provision(a, developers=("bob",), settle=nodes)
            minted = []
            for i in range(5):
                created = await a.op.directory.create_service_credential(name=f"console-{i}",
                                                                        scope=pb.CREDENTIAL_SCOPE_ACT)
                secret = created.secret

                async def authenticates(node):
                    kind, r = await outcome(node.client.keys.list(credential=service(secret), tenant="acme",
                                                                  user="bob"))
                    return kind == "ok"
                await everywhere((b,), authenticates, "the new credential works on B")
                await a.op.directory.revoke_credential(credential_id=created.credential.id)  # acknowledged
                kind, r = await outcome(b.client.keys.generate(name=f"minted {i}", expires_in_seconds=3600,
                                                               credential=service(secret), tenant="acme", user="bob"))
                if kind == "ok":
                    minted.append(r.key.id)
                else:
                    assert r.code == StatusCode.UNAUTHENTICATED and r.reason == "unknown_credential", r
            assert not minted, f"revoked service credentials minted keys through the other server: {minted}"
        finally:
            for n in nodes:
                await n.close()

    run(main(), 60)


# --- 2. R16 / X3 race --------------------------------------------------------------------

def test_r16_x3_concurrent_generates_on_three_servers_never_exceed_the_maximum(deployment):
    servers = deployment.start(3)
    maximum, calls = 5, 30

    async def race(nodes, user: str, tag: str):
        results = await asyncio.gather(*(outcome(nodes[i % 3].user(user).keys.generate(
            name=f"{tag} {i}", expires_in_seconds=3600)) for i in range(calls)))
        ok = [r for kind, r in results if kind == "ok"]
        for kind, r in results:
            if kind == "error":
                assert r.code == StatusCode.RESOURCE_EXHAUSTED and r.rule == "R16" and r.reason == "key_limit", r
        return ok

    async def active(node, user: str) -> list:
        listed = await node.user(user).keys.list(status=pb.KEY_STATUS_ACTIVE, page_size=100)
        return listed.keys

    async def main():
        nodes = await connect(servers)
        try:
            await provision(nodes[0], developers=("bob",), max_keys_per_user=maximum, settle=nodes)
            ok = await race(nodes, "bob", "first")
            assert len(ok) == maximum, f"{len(ok)} of {calls} concurrent Generates succeeded, maximum {maximum}"
            assert len(await active(nodes[2], "bob")) == maximum
            # X3: revoked keys do not count. Two revoked through B, then another race: two more.
            for key in ok[:2]:
                await nodes[1].user("bob").keys.revoke(key_id=key.key.id)
            ok2 = await race(nodes, "bob", "second")
            assert len(ok2) == 2, f"{len(ok2)} succeeded after 2 of {maximum} were revoked"
            listed = await active(nodes[1], "bob")
            assert len(listed) == maximum, [k.id for k in listed]
        finally:
            for n in nodes:
                await n.close()

    run(main(), 90)


# --- 3. the last TenantAdmin -------------------------------------------------------------

def test_r3_last_tenant_admin_survives_concurrent_demotions_on_two_servers(deployment):
    servers = deployment.start(3)

    async def main():
        a, b, c = nodes = await connect(servers)
        try:
            await provision(a, admins=("alice", "dave"), developers=(), settle=nodes)
            for round_no in range(6):
                # Even rounds: each demotes the other; odd rounds: each demotes themselves
                # (write skew: each sees the other still an admin).
                mutual = round_no % 2 == 0
                calls = [(a, "alice", "dave" if mutual else "alice"), (b, "dave", "alice" if mutual else "dave")]
                results = await asyncio.gather(*(outcome(node.user(actor).directory.remove_role(
                    user_id=target, role=pb.ROLE_TENANT_ADMIN)) for node, actor, target in calls))
                ok = [r for kind, r in results if kind == "ok"]
                errors = [r for kind, r in results if kind == "error"]
                assert len(ok) == 1, f"round {round_no}: {results}"
                err = errors[0]
                assert (err.code, err.reason) in ((StatusCode.FAILED_PRECONDITION, "last_tenant_admin"),
                                                  (StatusCode.PERMISSION_DENIED, "not_tenant_admin")), err
                remaining = next(u for u in ("alice", "dave") if u != ok[0].user.user_id)
                users = (await c.user(remaining).directory.list_users()).users
                admins = [u.user_id for u in users if pb.ROLE_TENANT_ADMIN in u.roles]
                assert admins == [remaining], f"round {round_no}: admins {admins}"
                await c.user(remaining).directory.assign_role(user_id=ok[0].user.user_id, role=pb.ROLE_TENANT_ADMIN)
        finally:
            for n in nodes:
                await n.close()

    run(main(), 90)


# --- 4. bulk revoke --------------------------------------------------------------------

def test_r11_x6_concurrent_bulk_revokes_on_two_servers_report_per_key_and_revoke_each_once(deployment):
    servers = deployment.start(3)

    async def main():
        a, b, c = nodes = await connect(servers)
        try:
            await provision(a, developers=("bob",), settle=nodes)
            keys = [await a.user("bob").keys.generate(name=f"bulk {i}", expires_in_seconds=DAY) for i in range(8)]
            ids = [k.key.id for k in keys]
            await b.user("alice").keys.revoke(key_id=ids[6])        # already revoked
            await c.user("bob").keys.delete(key_id=ids[7])          # gone
            missing = "key_" + "0" * 20
            request = ids + [missing]
            first, second = await asyncio.gather(
                a.user("alice").keys.revoke_many(key_ids=request, reason="bulk on A"),
                b.user("alice").keys.revoke_many(key_ids=list(reversed(request)), reason="bulk on B"))
            outcomes = [{r.key_id: r.outcome for r in resp.results} for resp in (first, second)]
            for o in outcomes:
                assert set(o) == set(request), o
                assert o[ids[6]] == pb.REVOKE_OUTCOME_NOT_ACTIVE
                assert o[ids[7]] == pb.REVOKE_OUTCOME_NOT_FOUND
                assert o[missing] == pb.REVOKE_OUTCOME_NOT_FOUND
            for key_id in ids[:6]:
                got = sorted(o[key_id] for o in outcomes)
                assert got == sorted([pb.REVOKE_OUTCOME_REVOKED, pb.REVOKE_OUTCOME_NOT_ACTIVE]), (key_id, got)
            # Each key revoked once: one successful key.revoked event, status Revoked, refused.
            for key_id in ids[:7]:
                assert (await c.user("alice").keys.get(key_id=key_id)).key.status == pb.KEY_STATUS_REVOKED
                events = await c.user("alice").events.list(key_id=key_id, action="key.revoked", page_size=100)
                successes = [e for e in events.events if e.outcome == "success"]
                assert len(successes) == 1, (key_id, events.events)
            for k in keys[:7]:
                await everywhere(nodes, refused(k.secret, "revoked"), "X6 bulk-revoked key refused")
        finally:
            for n in nodes:
                await n.close()

    run(main(), 90)


# --- 5. usage and excessive use -------------------------------------------------------------

def test_x9_usage_and_excessive_use_add_up_over_servers(deployment):
    servers = deployment.start(3)
    threshold, per_server = 30, 20  # each server sees 20 (under 30); the deployment 60 (over)

    async def main():
        nodes = await connect(servers)
        try:
            await provision(nodes[0], developers=("bob",), excessive_use_per_minute=threshold)
            # Generated after the settings change: once it verifies everywhere, every server
            # has the new threshold too (changes arrive in commit order).
            key = await nodes[0].user("bob").keys.generate(name="busy", expires_in_seconds=DAY)
            await everywhere(nodes, verifies(key.secret), "generated key verifies")  # 3 verifications
            second = time.time() % 60
            if second > 55:  # all verifications inside one minute window
                await asyncio.sleep(61 - second)
            results = await asyncio.gather(*(verify_outcome(n, key.secret) for n in nodes for _ in range(per_server)))
            assert all(is_principal(r) for r in results), [r for r in results if not is_principal(r)][:3]
            total = 3 * per_server

            async def excessive_events():
                page = await nodes[2].user("alice").events.list(key_id=key.key.id, action="key.excessive_use",
                                                                page_size=100)
                return page.events

            async def counted():
                got = (await nodes[1].user("alice").keys.get(key_id=key.key.id)).key
                return got.use_count >= total + 3 and await excessive_events()
            await until(counted, 15, "X9 usage flushed and the excessive-use event stored", interval=0.1)
            await asyncio.sleep(2.5)  # more flushes: nothing is counted twice, no second event
            got = (await nodes[2].user("alice").keys.get(key_id=key.key.id)).key
            assert got.use_count == total + 3, f"use_count {got.use_count}, verified {total + 3} times"
            assert got.last_used_at_ms > 0
            events = await excessive_events()
            assert len(events) == 1, events
        finally:
            for n in nodes:
                await n.close()

    run(main(), 90)


# --- 6. SIGKILL during writes ------------------------------------------------------------

def test_x21_sigkill_of_one_server_during_writes_loses_no_acknowledged_write(deployment):
    servers = deployment.start(3)
    killed = servers[0]

    async def writer(node, user: str, tag: str, stop: asyncio.Event, log: dict):
        """Generate, and revoke every third key; records what was acknowledged."""
        seq = 0
        while not stop.is_set():
            seq += 1
            try:
                if seq % 3 == 0 and log["active"]:
                    key_id = log["active"].pop(0)
                    log["revoking"] = key_id
                    await node.user(user).keys.revoke(key_id=key_id, timeout=10)
                    log["revoked"].append(key_id)
                else:
                    resp = await node.user(user).keys.generate(name=f"{tag} {seq}", expires_in_seconds=DAY, timeout=10)
                    log["keys"][resp.key.id] = resp.secret
                    log["active"].append(resp.key.id)
                log["acks"] += 1
            except (RpcError, ConnectionError, OSError) as exc:
                log["errors"].append(exc)
                return

    def new_log():
        return {"keys": {}, "active": [], "revoked": [], "acks": 0, "errors": [], "revoking": None}

    async def main():
        a, b, c = nodes = await connect(servers)
        try:
            await provision(a, developers=("bob", "carol"), settle=nodes)
            stop = asyncio.Event()
            on_a, on_b = new_log(), new_log()
            tasks = [asyncio.create_task(writer(a, "bob", "via A", stop, on_a)),
                     asyncio.create_task(writer(b, "carol", "via B", stop, on_b))]
            await until(lambda: asyncio.sleep(0, on_a["acks"] >= 15), 30, "writes through A", interval=0.01)
            killed.process.kill()
            killed.process.wait(10)
            acks_at_kill = on_b["acks"]
            await until(lambda: asyncio.sleep(0, on_b["acks"] >= acks_at_kill + 10), 30, "writes through B go on")
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            assert on_a["errors"], "the writer on the killed server saw no error"
            assert not on_b["errors"], f"writes through B failed: {on_b['errors'][:3]}"

            for log in (on_a, on_b):
                stored = {}
                token = ""
                while True:
                    page = await c.user("alice").keys.list(page_size=100, page_token=token)
                    stored.update({k.id: k for k in page.keys})
                    token = page.next_page_token
                    if not token:
                        break
                for key_id, secret in log["keys"].items():
                    assert key_id in stored, f"acknowledged key {key_id} is gone"
                    if key_id in log["revoked"]:
                        assert stored[key_id].status == pb.KEY_STATUS_REVOKED, f"acknowledged revoke of {key_id} lost"
                        await everywhere((b, c), refused(secret, "revoked"), "acknowledged revoke refused")
                    elif key_id != log["revoking"]:
                        assert stored[key_id].status == pb.KEY_STATUS_ACTIVE, key_id
                        await everywhere((b, c), verifies(secret, key_id), "acknowledged key verifies")
            print(f"\n[several-servers] SIGKILL: acknowledged via A {on_a['acks']}, via B {on_b['acks']}")
        finally:
            for n in nodes:
                await n.close()

    run(main(), 120)


# --- 7. pg_terminate_backend ------------------------------------------------------------

def test_x21_server_recovers_by_itself_when_its_database_connections_are_terminated(deployment, cluster):
    servers = deployment.start(3, "--max-staleness", "3s")
    victim = servers[0]

    async def main():
        a, b, c = nodes = await connect(servers)
        try:
            await provision(b, developers=("bob",), settle=nodes)
            before = await a.user("bob").keys.generate(name="before", expires_in_seconds=DAY)
            await everywhere(nodes, verifies(before.secret), "key verifies")
            backends = cluster.backends_of(victim.process.pid)
            assert backends, "found no database connection of the server"
            rows = cluster.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (%s)"
                                % ",".join(map(str, backends)))
            assert rows and all(r == ["t"] for r in rows), rows
            started = time.monotonic()

            # Writes through it work again shortly (an UNAVAILABLE meanwhile is allowed).
            written = {}

            async def write_works():
                kind, r = await outcome(a.user("bob").keys.generate(name="after", expires_in_seconds=DAY))
                if kind == "ok":
                    written["key"] = r
                    return True
                assert r.code == StatusCode.UNAVAILABLE, r
                return False
            await until(write_works, 20, "a write through the server", interval=0.1)
            recovered = time.monotonic() - started
            after = written["key"]
            await everywhere(nodes, verifies(after.secret), "a key written after the termination verifies")
            await until(lambda: verifies(before.secret)(a), 10, "Verify on the server")
            # Propagation works both ways: into it, and from it.
            await b.user("alice").keys.revoke(key_id=before.key.id)
            into = await everywhere((a,), refused(before.secret, "revoked"), "a revoke through B reaches it")
            await a.user("alice").keys.revoke(key_id=after.key.id)
            out = await everywhere((b, c), refused(after.secret, "revoked"), "a revoke through it reaches the others")
            now = set(cluster.backends_of(victim.process.pid))
            assert now and not now & set(backends), f"old backends {backends}, now {sorted(now)}"
            report("after pg_terminate_backend", {"writes again": recovered, "revoke into it": into,
                                                  "revoke from it": out})
        finally:
            for n in nodes:
                await n.close()

    run(main(), 90)
    assert victim.process.poll() is None, "the server exited"


# --- 8. the database stopped and restarted -----------------------------------------------

def test_x21_database_stopped_writes_unavailable_verify_fails_closed_after_staleness_then_recovers(tmp_path):
    staleness = 4.0
    try:
        own = PgCluster.start()  # a cluster of its own: this test stops it
    except ClusterUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    d = Deployment(own, new_schema("outage"), str(tmp_path))
    try:
        servers = d.start(3, "--max-staleness", f"{staleness:.0f}s")
        ports = [http_port(s) for s in servers]
        timings = {}

        async def main():
            a, b, c = nodes = await connect(servers)
            try:
                await provision(a, developers=("bob",), settle=nodes)
                k1 = await a.user("bob").keys.generate(name="k1", expires_in_seconds=DAY)
                k2 = await a.user("bob").keys.generate(name="k2", expires_in_seconds=DAY)
                await everywhere(nodes, verifies(k2.secret), "keys verify")
                assert all(http_get(p, "/readyz")[0] == 200 for p in ports)

                own.stop_database()
                stopped = time.monotonic()

                # Writes: UNAVAILABLE at once, with a clear message.
                for node, call in ((a, lambda n: n.user("bob").keys.generate(name="during outage",
                                                                             expires_in_seconds=DAY)),
                                   (b, lambda n: n.user("alice").keys.revoke(key_id=k1.key.id))):
                    t0 = time.monotonic()
                    kind, r = await outcome(call(node))
                    took = time.monotonic() - t0
                    assert kind == "error" and r.code == StatusCode.UNAVAILABLE, r
                    assert r.reason == "store_unavailable" and "store" in r.message, r
                    assert took < 3.0, f"a write took {took:.1f} s to answer UNAVAILABLE"
                timings["write refused"] = took

                # Verify: from memory until the staleness limit, then UNAVAILABLE (X21).
                first_unavailable = {}
                last_ok = {}

                async def fails_closed(i):
                    async def check():
                        r = await verify_outcome(nodes[i], k2.secret)
                        t = time.monotonic() - stopped
                        if is_principal(r):
                            last_ok[i] = t
                            return False
                        assert r.code == StatusCode.UNAVAILABLE and r.reason == "store_unreachable", r
                        assert r.rule == "X21", r
                        first_unavailable[i] = t
                        return True
                    await until(check, staleness + 10, "Verify fails closed", interval=0.05)
                await asyncio.gather(*(fails_closed(i) for i in range(3)))
                for i in range(3):
                    assert first_unavailable[i] >= min(2.0, staleness - 1.5), \
                        f"server {i + 1} failed closed after {first_unavailable[i]:.1f} s (limit {staleness} s)"
                    assert first_unavailable[i] <= staleness + 4, \
                        f"server {i + 1} answered from memory for {first_unavailable[i]:.1f} s (limit {staleness} s)"
                    assert last_ok.get(i, 0) <= staleness + 1, last_ok
                timings["fail closed"] = max(first_unavailable.values())
                for p in ports:
                    status, body = http_get(p, "/readyz")
                    assert status == 503, (status, body)

                own.start_database()
                restarted = time.monotonic()

                # Everything recovers without restarting apikeysd.
                async def writes_work():
                    kind, r = await outcome(c.user("alice").keys.revoke(key_id=k1.key.id))
                    if kind == "error":
                        assert r.code == StatusCode.UNAVAILABLE, r
                    return kind == "ok"
                await until(writes_work, 30, "a write after the restart", interval=0.1)
                timings["writes again"] = time.monotonic() - restarted
                await everywhere(nodes, refused(k1.secret, "revoked"), "revoke made at recovery reaches all", 15)
                await everywhere(nodes, verifies(k2.secret), "Verify answers again", 15)
                timings["verify again"] = time.monotonic() - restarted
                deadline = time.monotonic() + 15
                while not all(http_get(p, "/readyz")[0] == 200 for p in ports):
                    assert time.monotonic() < deadline, [http_get(p, "/readyz") for p in ports]
                    await asyncio.sleep(0.1)
                # After the outage: changes propagate; the refused write did not half-happen.
                k3 = await b.user("bob").keys.generate(name="after", expires_in_seconds=DAY)
                await everywhere(nodes, verifies(k3.secret), "a key generated after the outage verifies")
                await a.user("alice").keys.revoke(key_id=k2.key.id)
                await everywhere((b, c), refused(k2.secret, "revoked"), "a revoke after the outage propagates")
                listed = await b.user("alice").keys.list(search="during outage", page_size=100)
                assert not listed.keys, listed.keys
            finally:
                for n in nodes:
                    await n.close()

        run(main(), 120)
        for srv in servers:
            assert srv.process.poll() is None, f"a server exited: {srv.stderr_tail()}"
            # The outage is logged once, and its end once (not a line per retry).
            log = stderr_text(srv)
            assert log.count("cannot read the store's change log") == 1, log[-3000:]
            assert log.count("the store is reachable again") == 1, log[-3000:]
        report("database outage", timings)
    finally:
        problems = d.stop()
        own.stop()
    assert not problems, problems
