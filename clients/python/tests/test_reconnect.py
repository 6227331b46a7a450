"""The pooled client against real servers that go away and come back (issue 12, item 7):
a restart under steady Verify load, a GoAway drain with calls in flight, a listener that
never answers the handshake, a refused port, calls spread over the pool, and SyncClient."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
import uuid

import pytest

from apikeys_client import (
    Client, ConnectError, GoAwayReason, RpcError, StatusCode, SyncClient, operator, pb, service,
)
from conftest import start_server
from helpers import run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_size(srv) -> int:
    return os.path.getsize(srv.stderr_path)


def call_lines(srv, since: int = 0, method: str = "") -> list[str]:
    with open(srv.stderr_path, errors="replace") as f:
        f.seek(since)
        return [line for line in f if "msg=call" in line and method in line]


async def provision(address, operator_secret: str) -> tuple[str, str]:
    """A tenant with a licensed developer and a key; (key secret, verify-scope credential)."""
    tenant = f"rc-{uuid.uuid4().hex[:8]}"
    async with Client(*address, credential=operator(operator_secret)) as op:
        await op.directory.create_tenant(tenant_id=tenant, name="Reconnect")
        await op.directory.create_user(tenant_id=tenant, user_id="dev", licensed=True,
                                       roles=[pb.ROLE_TENANT_ADMIN, pb.ROLE_DEVELOPER])
        act = await op.directory.create_service_credential(name=f"{tenant}-console",
                                                           scope=pb.CREDENTIAL_SCOPE_ACT)
        verifier = await op.directory.create_service_credential(name=f"{tenant}-edge",
                                                                scope=pb.CREDENTIAL_SCOPE_VERIFY)
        dev = op.with_auth(service(act.secret), tenant=tenant, user="dev")
        await dev.tenant_settings.update(api_keys_enabled=True)
        key = await dev.keys.generate(name="load", expires_in_seconds=3600)
        return key.secret, verifier.secret


@pytest.fixture
def restartable(tmp_path):
    """A server on a fixed port, and a function that restarts it on the same port and data
    directory (SIGTERM, wait for exit 0, start). Yields [server] (the current one)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    current = [start_server(str(data_dir), port=port)]

    def restart() -> tuple[int, float]:
        """Returns the old server's exit status and how long the port was closed."""
        old = current[0]
        start = time.monotonic()
        status = old.stop(timeout=30)
        current[0] = start_server(str(data_dir), port=port)
        return status, time.monotonic() - start

    current.append(restart)
    try:
        yield current
    finally:
        current[0].stop()


def test_restart_under_steady_verify_load_fails_no_call(restartable):
    """SIGTERM and a new server on the same port while 8 tasks (and a SyncClient thread)
    verify nonstop: every call succeeds. Calls the old server did not take are sent
    again; calls that come while nothing listens wait for the reconnect."""
    srv, restart = restartable
    key, verifier = run(provision(srv.address, srv.operator_credential))
    sync_counts = {"ok": 0, "failed": []}
    stop_sync = threading.Event()

    def sync_load():
        with SyncClient(*srv.address, credential=service(verifier)) as edge:
            while not stop_sync.is_set():
                try:
                    edge.verification.verify(secret=key, timeout=15)
                    sync_counts["ok"] += 1
                except Exception as exc:  # noqa: BLE001 - every failure is counted
                    sync_counts["failed"].append(repr(exc))
                time.sleep(0.002)

    async def main():
        loop = asyncio.get_running_loop()
        client = Client(*srv.address, credential=service(verifier), pool_size=2)
        ok, failed, slowest = [0], [], [0.0]
        stop = asyncio.Event()

        async def worker():
            while not stop.is_set():
                start = loop.time()
                try:
                    resp = await client.verification.verify(secret=key, timeout=15)
                    assert resp.principal.user_id == "dev"
                    ok[0] += 1
                except Exception as exc:  # noqa: BLE001 - every failure is counted
                    failed.append(repr(exc))
                slowest[0] = max(slowest[0], loop.time() - start)

        workers = [asyncio.create_task(worker()) for _ in range(8)]
        await asyncio.sleep(1.0)
        before = ok[0]
        status, gap = await loop.run_in_executor(None, restart)
        at_restart = ok[0]
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*workers)
        after = ok[0] - at_restart
        stats = dict(calls=ok[0] + len(failed), failed=len(failed), before_restart=before,
                     after_restart=after, port_closed_s=round(gap, 3), slowest_call_s=round(slowest[0], 3),
                     resent_not_run=client.channel.retries,
                     resent_lost=client.channel.idempotent_retries, connects=client.channel.connects,
                     failed_connects=client.channel.connect_failures)
        await client.close()
        return status, stats, failed

    sync_thread = threading.Thread(target=sync_load)
    sync_thread.start()
    try:
        status, stats, failed = run(main(), timeout=90)
    finally:
        stop_sync.set()
        sync_thread.join(30)
    print(f"restart under load: {stats}, sync client: {sync_counts['ok']} ok, "
          f"{len(sync_counts['failed'])} failed")
    assert status == 0
    assert failed == [], failed[:5]
    assert sync_counts["failed"] == [], sync_counts["failed"][:5]
    assert stats["before_restart"] > 100 and stats["after_restart"] > 100, stats
    assert sync_counts["ok"] > 50, sync_counts
    assert stats["connects"] >= 2, stats  # a new connection to the new server
    assert call_lines(restartable[0], method="Verification/Verify"), "the new server answered no Verify"


def test_goaway_drain_with_calls_in_flight(restartable):
    """Calls in flight when SIGTERM's GoAway arrives finish on the old server; calls made
    during the drain go to the new server once it listens. None fails."""
    srv, restart = restartable

    async def main():
        loop = asyncio.get_running_loop()
        client = Client(*srv.address, pool_size=2)
        await client.health.check()
        first = client.connection
        start = loop.time()
        slow = [asyncio.create_task(client.conformance.echo(sleep_millis=800, response_size=3))
                for _ in range(20)]
        await asyncio.sleep(0.2)
        restarted = loop.run_in_executor(None, restart)
        # Calls made while the old server drains and while nothing listens.
        later = []
        while not restarted.done():
            later.append(asyncio.create_task(client.conformance.empty(timeout=20)))
            await asyncio.sleep(0.02)
        status, _ = await restarted
        replies = await asyncio.gather(*slow)
        slow_elapsed = loop.time() - start
        await asyncio.gather(*later)
        assert first.goaway is not None and first.goaway.reason == GoAwayReason.NO_ERROR
        assert first.closed
        stats = dict(in_flight=len(slow), during_drain=len(later), resent=client.channel.retries,
                     connects=client.channel.connects)
        await client.close()
        return status, replies, slow_elapsed, stats

    status, replies, slow_elapsed, stats = run(main(), timeout=90)
    print(f"drain: {stats}")
    assert status == 0
    assert all(len(r.payload) == 3 for r in replies)
    assert slow_elapsed >= 0.8
    assert stats["during_drain"] > 5
    # The new server answered the calls made during the drain (the old one answered none
    # of them after its GoAway, and the old log holds every slow Echo as OK).
    new = restartable[0]
    assert call_lines(new, method="Conformance/Empty"), "no call reached the new server"


def test_handshake_timeout_against_a_listener_that_never_answers():
    """A listener that accepts and never sends settings: each attempt ends after
    connect_timeout, attempts repeat with backoff, the call fails UNAVAILABLE when its
    wait is over, and every socket the client opened is closed again."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept_forever():
        while not done.is_set():
            try:
                conn, _ = listener.accept()
                accepted.append(conn)
            except socket.timeout:
                pass

    thread = threading.Thread(target=accept_forever)
    thread.start()
    address = listener.getsockname()[:2]

    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(ConnectError) as once:
            await Client.connect(*address, timeout=0.3)
        single = loop.time() - start

        client = Client(*address, connect_timeout=0.3, wait_for_connection=1.5, backoff_initial=0.05)
        start = loop.time()
        with pytest.raises(RpcError) as info:
            await client.health.check()
        waited = loop.time() - start
        failures = client.channel.connect_failures
        await client.close()
        return once.value, single, info.value, waited, failures

    try:
        once, single, error, waited, failures = run(main())
        time.sleep(0.2)
        still_open = 0
        for conn in accepted:  # the client closed each: a read sees EOF
            conn.settimeout(1)
            try:
                still_open += conn.recv(100) != b"" and conn.recv(100) != b""
            except socket.timeout:
                still_open += 1
    finally:
        done.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    print(f"handshake timeout: single attempt {single:.2f} s; pooled call failed after {waited:.2f} s, "
          f"{failures} attempts, {len(accepted)} connections accepted")
    assert once.code is StatusCode.UNAVAILABLE and "handshake" in once.message
    assert 0.3 <= single < 1.0
    assert error.code is StatusCode.UNAVAILABLE and "handshake" in error.message, error
    assert 1.5 <= waited < 2.5, waited
    assert failures >= 2 and len(accepted) >= failures + 1
    assert still_open == 0


def test_refused_connection_is_an_unavailable_rpc_error():
    """Nothing listens: Client.connect fails at once, a pooled call after its wait, the
    SyncClient the same way; always RpcError UNAVAILABLE, and attempts back off."""
    port = free_port()

    async def main():
        with pytest.raises(RpcError) as eager:
            await Client.connect("127.0.0.1", port, timeout=2)
        client = Client("127.0.0.1", port, wait_for_connection=1.0, backoff_initial=0.05, backoff_max=0.4)
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(RpcError) as lazy:
            await client.verification.verify(secret="ak_x")
        waited = loop.time() - start
        attempts = client.channel.connect_failures
        await client.close()
        return eager.value, lazy.value, waited, attempts

    eager, lazy, waited, attempts = run(main())
    print(f"refused: call failed after {waited:.2f} s and {attempts} attempts")
    for error in (eager, lazy):
        assert type(error) is ConnectError and error.code is StatusCode.UNAVAILABLE
        assert "refused" in error.message.lower(), error.message
        assert not isinstance(error.__cause__, RpcError)  # the OSError is kept as the cause only
    assert 1.0 <= waited < 1.6
    # Backoff: 25-50 ms, then doubling to at most 400 ms: a handful of attempts, not hundreds.
    assert 3 <= attempts <= 15, attempts

    with SyncClient("127.0.0.1", port, wait_for_connection=0.3) as sync:
        with pytest.raises(RpcError) as info:
            sync.health.check()
    assert info.value.code is StatusCode.UNAVAILABLE
    with pytest.raises(RpcError) as info:
        SyncClient.connect("127.0.0.1", port, timeout=1)
    assert info.value.code is StatusCode.UNAVAILABLE


def test_pool_spreads_concurrent_calls_over_its_connections(server_factory):
    """250 concurrent slow calls on a pool of 3, with the server's limit of 100 calls per
    connection: none is refused (RESOURCE_EXHAUSTED), each connection carries calls, the
    server sees three peers; sequential calls afterwards stay on one connection."""
    srv = server_factory()

    async def main():
        client = Client(*srv.address, pool_size=3)
        replies = await asyncio.gather(*[client.conformance.echo(sleep_millis=300, response_size=1)
                                         for _ in range(250)], return_exceptions=True)
        conns = client.channel.connections
        per_connection = [c.calls_started for c in conns]
        for _ in range(20):
            await client.conformance.empty()
        after = [c.calls_started for c in conns]
        await client.close()
        return replies, per_connection, after

    replies, per_connection, after = run(main())
    peers = {re.search(r"peer=(\S+)", line).group(1)
             for line in call_lines(srv, method="Conformance/Echo")}
    print(f"pool: calls per connection {per_connection}, server saw {len(peers)} peers")
    assert [r for r in replies if not isinstance(r, pb.EchoResponse)] == []
    assert len(per_connection) == 3 and all(0 < n <= 100 for n in per_connection), per_connection
    assert sum(per_connection) == 250
    assert len(peers) == 3
    # Sequential calls find an idle connection: no fourth one, all on the same one.
    grew = [b - a for a, b in zip(per_connection, after)]
    assert sorted(grew) == [0, 0, 20], grew


def test_sync_client_same_methods_and_errors(server):
    """SyncClient: the generated methods, per-call options, RpcError with its code and
    rule, use from several threads at once, with_auth, and closed is closed."""
    with SyncClient.connect(*server.address, credential=operator(server.operator_credential)) as op:
        assert op.settings.max_concurrent_calls == 100
        tenant = f"sync-{uuid.uuid4().hex[:8]}"
        op.directory.create_tenant(tenant_id=tenant, name="Sync")
        with pytest.raises(RpcError) as info:
            op.directory.create_tenant(tenant_id=tenant, name="Sync")
        assert info.value.code is StatusCode.ALREADY_EXISTS
        with pytest.raises(RpcError) as info:
            op.directory.remove_user(tenant_id=tenant, user_id="nobody")
        assert info.value.code is StatusCode.NOT_FOUND, info.value
        with pytest.raises(TypeError):
            op.directory.create_tenant(pb.CreateTenantRequest(tenant_id="x"), name="y")

        anonymous = op.with_auth(None)
        assert anonymous.health.check().status == pb.HealthCheckResponse.SERVING
        with pytest.raises(RpcError) as info:
            anonymous.directory.create_tenant(tenant_id=f"{tenant}-2", name="No")
        assert info.value.code is StatusCode.UNAUTHENTICATED

        results, errors = [], []

        def hammer():
            try:
                for _ in range(50):
                    results.append(op.conformance.echo(payload=b"x", response_size=2, timeout=5))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == [] and len(results) == 200
        with pytest.raises(RpcError) as info:
            op.conformance.echo(sleep_millis=1000, timeout=0.05)
        assert info.value.code is StatusCode.DEADLINE_EXCEEDED
    with pytest.raises(RpcError) as info:
        op.health.check()
    assert info.value.code is StatusCode.CANCELLED
