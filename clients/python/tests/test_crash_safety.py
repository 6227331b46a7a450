"""Crash safety: SIGKILL apikeysd at random moments under writes, restart it on the same
data directory, and check that every acknowledged write is there exactly as acknowledged
and nothing unacknowledged is half-applied.

Writers: three developers generate, rename and revoke their keys; the admin updates the
tenant settings. A call is *acknowledged* when its OK response arrived; a call whose
connection died first is *unknown*: after the restart it must be either fully applied or
not at all. Checked through Keys/Get, Keys/List, Settings/Get, Events/List and Verify:

- every acknowledged key exists, with its acknowledged name (or the name of a rename that
  was in flight) and status; its secret still verifies (or is refused as revoked);
- a key nobody acknowledged comes from a Generate in flight at the kill, at most once;
- each key has exactly one `key.generated` event; its last `key.renamed` event names its
  current name; it has a successful `key.revoked` event exactly when it is revoked;
- the settings hold the last acknowledged value or one in flight, and the newest
  `settings.changed` event ends in that value.

APIKEYS_CRASH_KILL_POINTS (default 20) sets the number of kills; APIKEYS_CRASH_SEED the seed.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

from apikeys_client import Client, RpcError, StatusCode, operator, pb, service
from conftest import start_server
from helpers import run
from reliability import SERVICE_ARGS, SERVICE_SECRET, all_events, all_keys, provision

KILL_POINTS = int(os.environ.get("APIKEYS_CRASH_KILL_POINTS", "20"))
SEED = int(os.environ.get("APIKEYS_CRASH_SEED", str(int(time.time()))))
DEVELOPERS = ("bob", "carol", "dave")
#: Past this many Active keys a developer revokes more than it generates.
ACTIVE_CEILING = 150


@dataclass
class Key:
    owner: str
    name: str
    secret: str | None
    revoked: bool = False
    pending_names: set = field(default_factory=set)
    revoke_pending: bool = False
    busy: bool = False


@dataclass
class Model:
    keys: dict = field(default_factory=dict)
    #: Names of Generate calls whose outcome is unknown, per owner.
    pending_generates: dict = field(default_factory=lambda: defaultdict(set))
    #: Names of calls refused with a status: they must not have happened.
    refused_names: set = field(default_factory=set)
    excessive: int = 600
    pending_excessive: set = field(default_factory=set)
    acknowledged: int = 0
    unknown: int = 0


class Unknown(Exception):
    """The connection died before the answer: the outcome is unknown."""


async def call(client: Client, coro):
    try:
        return await coro
    except RpcError as exc:
        if client.connection.closed or exc.code in (StatusCode.UNAVAILABLE, StatusCode.CANCELLED):
            raise Unknown() from exc
        raise


async def developer(client: Client, owner: str, model: Model, rng: random.Random, round_no: int):
    seq = 0
    while True:
        seq += 1
        mine = [k for k, v in model.keys.items() if v.owner == owner and not v.busy]
        active = [k for k in mine if not model.keys[k].revoked]
        roll = rng.random()
        if len(active) > ACTIVE_CEILING:
            roll = 0.9
        if roll < 0.45 or not active:
            name = f"gen {owner} r{round_no} #{seq}"
            model.pending_generates[owner].add(name)
            try:
                resp = await call(client, client.keys.generate(name=name, expires_in_seconds=30 * 24 * 3600))
            except Unknown:
                model.unknown += 1
                return
            except RpcError:
                model.pending_generates[owner].discard(name)
                model.refused_names.add(name)
                continue
            model.pending_generates[owner].discard(name)
            model.keys[resp.key.id] = Key(owner, name, resp.secret)
            model.acknowledged += 1
        elif roll < 0.8:
            key_id = rng.choice(mine)
            key = model.keys[key_id]
            name = f"ren {owner} r{round_no} #{seq}"
            key.busy = True
            key.pending_names.add(name)
            try:
                resp = await call(client, client.keys.rename(key_id=key_id, name=name))
            except Unknown:
                model.unknown += 1
                return
            finally:
                key.busy = False
            key.pending_names.discard(name)
            assert resp.key.name == name
            key.name = name
            model.acknowledged += 1
        else:
            key_id = rng.choice(active)
            key = model.keys[key_id]
            key.busy = True
            key.revoke_pending = True
            try:
                resp = await call(client, client.keys.revoke(key_id=key_id, reason="crash test"))
            except Unknown:
                model.unknown += 1
                return
            finally:
                key.busy = False
            key.revoke_pending = False
            assert resp.key.status == pb.KEY_STATUS_REVOKED
            key.revoked = True
            model.acknowledged += 1


async def admin_writer(admin: Client, model: Model, rng: random.Random):
    while True:
        value = model.excessive + rng.randint(1, 50)
        model.pending_excessive.add(value)
        try:
            resp = await call(admin, admin.tenant_settings.update(excessive_use_per_minute=value))
        except Unknown:
            model.unknown += 1
            return
        model.pending_excessive.discard(value)
        assert resp.settings.excessive_use_per_minute == value
        model.excessive = value
        model.acknowledged += 1
        await asyncio.sleep(rng.uniform(0, 0.02))


def clients_for(c: Client) -> tuple[Client, dict]:
    admin = c.with_auth(service(SERVICE_SECRET), tenant="acme", user="alice")
    devs = {d: c.with_auth(service(SERVICE_SECRET), tenant="acme", user=d) for d in DEVELOPERS}
    return admin, devs


async def workload(srv, model: Model, rng: random.Random, round_no: int) -> None:
    """Writers on four connections; SIGKILL after a random delay."""
    # wait_for_connection=0: after the kill a writer's next call fails at once instead of
    # waiting for the server to come back, so the writers stop with the server.
    conns = [await Client.connect(*srv.address, timeout=5, wait_for_connection=0)
             for _ in range(len(DEVELOPERS) + 1)]
    tasks = [asyncio.create_task(admin_writer(clients_for(conns[0])[0], model, rng))]
    for conn, owner in zip(conns[1:], DEVELOPERS):
        tasks.append(asyncio.create_task(developer(clients_for(conn)[1][owner], owner, model, rng, round_no)))
    await asyncio.sleep(rng.uniform(0.02, 0.4))
    srv.process.kill()
    srv.process.wait(10)
    done, _ = await asyncio.wait(tasks, timeout=10)
    assert len(done) == len(tasks), "a writer did not notice the kill"
    for t in tasks:
        if t.exception() is not None:
            raise t.exception()
    for conn in conns:
        await conn.close()


async def check(srv, model: Model, round_no: int, full: bool) -> None:
    """After a restart: acknowledged writes are there, unknown ones all-or-nothing."""
    c = await Client.connect(*srv.address, timeout=10)
    admin, _ = clients_for(c)
    verifier = c.with_auth(service(SERVICE_SECRET), tenant=None, user=None)
    try:
        stored = {k.id: k for k in await all_keys(admin)}
        # Keys nobody acknowledged: from a Generate in flight at the kill, each at most once.
        for key_id, key in stored.items():
            if key_id in model.keys:
                continue
            pending = model.pending_generates[key.owner_id]
            assert key.name in pending, \
                f"round {round_no}: key {key_id} ({key.name!r}, {key.owner_id}) was never generated by this test"
            pending.discard(key.name)
            model.keys[key_id] = Key(key.owner_id, key.name, None)
        for names in model.pending_generates.values():
            names.clear()
        assert not any(k.name in model.refused_names for k in stored.values())

        for key_id, key in model.keys.items():
            got = stored.get(key_id)
            assert got is not None, f"round {round_no}: acknowledged key {key_id} ({key.name!r}) is gone"
            allowed = {key.name} | key.pending_names
            assert got.name in allowed, f"round {round_no}: key {key_id} is named {got.name!r}, expected one of {allowed}"
            key.name = got.name
            key.pending_names.clear()
            is_revoked = got.status == pb.KEY_STATUS_REVOKED
            if key.revoked:
                assert is_revoked, f"round {round_no}: acknowledged revocation of {key_id} was lost"
            elif not key.revoke_pending:
                assert got.status == pb.KEY_STATUS_ACTIVE, f"round {round_no}: {key_id} is {got.status}"
            key.revoked = is_revoked
            key.revoke_pending = False
            key.busy = False

        settings = (await admin.tenant_settings.get()).settings
        allowed = {model.excessive} | model.pending_excessive
        assert settings.excessive_use_per_minute in allowed, \
            f"round {round_no}: excessive_use_per_minute {settings.excessive_use_per_minute}, expected one of {allowed}"
        model.excessive = settings.excessive_use_per_minute
        model.pending_excessive.clear()
        changes = await admin.events.list(action="settings.changed", page_size=1)
        if changes.events:
            last = changes.events[0].details.get("excessive_use_per_minute", "")
            assert last.endswith(f"-> {model.excessive}"), \
                f"round {round_no}: newest settings.changed says {last!r}, settings hold {model.excessive}"

        # Secrets of this round's keys (or all at the end) still verify, or are refused as revoked.
        sample = [k for k in model.keys.values() if k.secret and (full or f"r{round_no} " in k.name + " ")]
        for key in sample:
            try:
                resp = await verifier.verification.verify(secret=key.secret)
                assert not key.revoked, "a revoked key verified"
                assert resp.principal.user_id == key.owner
            except RpcError as exc:
                assert exc.code == StatusCode.UNAUTHENTICATED and key.revoked and exc.reason == "revoked", exc

        if full:
            await check_events(admin, model)
    finally:
        await c.close()


async def check_events(admin: Client, model: Model) -> None:
    """Every key's events agree with its state: nothing half-applied."""
    by_key = defaultdict(list)
    for event in reversed(await all_events(admin)):  # oldest first
        if event.key_id:
            by_key[event.key_id].append(event)
    for key_id, key in model.keys.items():
        events = by_key.get(key_id, [])
        generated = [e for e in events if e.action == "key.generated"]
        assert len(generated) == 1, f"key {key_id}: {len(generated)} key.generated events"
        names = [generated[0].details["name"]] + \
            [e.details["name"] for e in events if e.action == "key.renamed" and e.outcome == "success"]
        assert names[-1] == key.name, f"key {key_id} is named {key.name!r}, its events say {names[-1]!r}"
        revokes = [e for e in events if e.action == "key.revoked" and e.outcome == "success"]
        assert len(revokes) == (1 if key.revoked else 0), f"key {key_id}: revoked={key.revoked}, {len(revokes)} events"
    orphans = [k for k, evs in by_key.items()
               if k not in model.keys and any(e.action == "key.generated" for e in evs)]
    assert not orphans, f"key.generated events for keys that do not exist: {orphans[:5]}"


def test_sigkill_under_writes_loses_no_acknowledged_write(tmp_path):
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    model = Model()
    srv = start_server(str(data_dir), *SERVICE_ARGS)
    operator_secret = srv.operator_credential
    assert operator_secret
    run(provision(srv.address, operator_secret, developers=DEVELOPERS))
    survived = 0
    start = time.monotonic()
    try:
        for round_no in range(1, KILL_POINTS + 1):
            run(workload(srv, model, rng, round_no), 30)
            srv = start_server(str(data_dir), *SERVICE_ARGS)
            assert srv.operator_credential is None, "a restart printed a new operator credential"
            run(check(srv, model, round_no, full=round_no == KILL_POINTS), 120)
            survived += 1
    finally:
        srv.stop()
        print(f"\n[reliability] crash safety: seed={SEED} kill_points_survived={survived}/{KILL_POINTS} "
              f"acknowledged_writes={model.acknowledged} unknown_at_kill={model.unknown} "
              f"keys={len(model.keys)} seconds={time.monotonic() - start:.1f}")
    assert survived == KILL_POINTS
