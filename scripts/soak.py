#!/usr/bin/env python3
"""Load and soak test: a mix of Verify and management calls from many connections against a
fresh apikeysd, for a chosen time.

    scripts/soak.py --seconds 300                       # make soak
    scripts/soak.py --seconds 20 --json out.json        # the short run of make test

Reports the error count (calls whose outcome was not the expected one: must be 0), latency
percentiles per kind of call, throughput, and the server's RSS sampled every second, with
whether it levels off: the largest RSS of the last third of the run may exceed that of the
middle third by at most --max-growth-mib (or --max-growth-percent of it, whichever is more).
Exits 1 on any error, unbounded growth, or a server that died; 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "clients" / "python"))

from apikeys_client import Client, RpcError, StatusCode, operator, pb, service  # noqa: E402

SERVICE_SECRET = "soak-service-credential-0123456789abcdefghijkl"
MIB = 1024 * 1024

#: The mix: kind -> weight (percent).
MIX = {
    "verify": 75, "verify_bad": 5, "list": 5, "get": 4, "rename": 4, "generate_delete": 3,
    "events": 2, "settings": 1, "health": 1,
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=300.0, help="length of the run (default 300)")
    p.add_argument("--connections", type=int, default=16, help="client connections (default 16)")
    p.add_argument("--concurrency", type=int, default=4, help="calls in flight per connection (default 4)")
    p.add_argument("--developers", type=int, default=8, help="developers, each with keys (default 8)")
    p.add_argument("--keys-per-developer", type=int, default=5)
    p.add_argument("--apikeysd", default=os.environ.get("APIKEYSD", str(REPO / ".build" / "debug" / "apikeysd")))
    p.add_argument("--max-growth-mib", type=float, default=8.0,
                   help="allowed RSS growth from the middle to the last third (default 8 MiB)")
    p.add_argument("--max-growth-percent", type=float, default=5.0,
                   help="... or this percentage of the middle third's RSS, whichever is more (default 5)")
    p.add_argument("--json", help="also write the report to this file")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def percentile(values, p):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


class Server:
    """apikeysd on a fresh data directory and an ephemeral port."""

    def __init__(self, binary: str):
        self.tmp = tempfile.mkdtemp(prefix="apikeys-soak-")
        self.stderr = open(os.path.join(self.tmp, "stderr.log"), "wb")
        self.process = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", "0", "--data-dir", os.path.join(self.tmp, "data")],
            # X18: credentials come from the environment or a file, never argv (ps shows it).
            env={**os.environ, "APIKEYS_SERVICE_CREDENTIALS": f"soak={SERVICE_SECRET}"},
            stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL)
        self.address = None
        self.operator_secret = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.operator_secret is None:
            line = self.process.stdout.readline().decode(errors="replace")
            if not line:
                break
            if "apikeysd listening on " in line:
                host, _, port = line.split("apikeysd listening on ", 1)[1].strip().rpartition(":")
                self.address = (host, int(port))
            if line.startswith("operator credential:"):
                self.operator_secret = line.split(":", 1)[1].strip()
        if self.address is None or self.operator_secret is None:
            self.stop()
            raise SystemExit(f"apikeysd did not start: see {self.tmp}/stderr.log")
        # Keep draining stdout so the pipe never fills.
        import threading
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.stderr.close()
        return self.process.returncode

    def cleanup(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class Stats:
    def __init__(self):
        self.latencies = defaultdict(list)
        self.errors = defaultdict(int)
        self.error_samples: list[str] = []

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 20:
            self.error_samples.append(f"{kind}: {what}")


async def setup(server: Server, args) -> dict:
    async with await Client.connect(*server.address, credential=operator(server.operator_secret)) as op:
        await op.directory.create_tenant(tenant_id="soak", name="Soak")
        await op.directory.create_user(tenant_id="soak", user_id="admin", display_name="Admin",
                                       roles=[pb.ROLE_TENANT_ADMIN])
        admin = op.with_auth(service(SERVICE_SECRET), tenant="soak", user="admin")
        await admin.tenant_settings.update(api_keys_enabled=True, max_keys_per_user=100,
                                           max_expiry_seconds=30 * 24 * 3600,
                                           excessive_use_per_minute=10_000_000)
        developers = {}
        for i in range(args.developers):
            user = f"dev{i}"
            await op.directory.create_user(tenant_id="soak", user_id=user, display_name=user,
                                           roles=[pb.ROLE_DEVELOPER], licensed=True)
            client = op.with_auth(service(SERVICE_SECRET), tenant="soak", user=user)
            keys = []
            for k in range(args.keys_per_developer):
                gen = await client.keys.generate(name=f"{user} key {k}", expires_in_seconds=7 * 24 * 3600)
                keys.append((gen.key.id, gen.secret))
            developers[user] = keys
        return developers


async def worker(client: Client, developers: dict, stats: Stats, stop_at: float, rng: random.Random) -> None:
    verifier = client.with_auth(service(SERVICE_SECRET), tenant=None, user=None)
    admin = client.with_auth(service(SERVICE_SECRET), tenant="soak", user="admin")
    kinds, weights = list(MIX), list(MIX.values())
    loop = asyncio.get_running_loop()
    seq = 0
    while loop.time() < stop_at:
        kind = rng.choices(kinds, weights)[0]
        user = rng.choice(list(developers))
        dev = client.with_auth(service(SERVICE_SECRET), tenant="soak", user=user)
        key_id, secret = rng.choice(developers[user])
        seq += 1
        start = time.perf_counter()
        try:
            if kind == "verify":
                resp = await verifier.verification.verify(secret=secret, timeout=10)
                if resp.principal.key_id != key_id:
                    stats.error(kind, f"principal {resp.principal.key_id} for {key_id}")
            elif kind == "verify_bad":
                bad = secret[:-6] + ("AAAAAA" if not secret.endswith("AAAAAA") else "BBBBBB")
                try:
                    await verifier.verification.verify(secret=bad, timeout=10)
                    stats.error(kind, "a tampered secret verified")
                except RpcError as exc:
                    if exc.code != StatusCode.UNAUTHENTICATED:
                        raise
            elif kind == "list":
                await dev.keys.list(search="key", page_size=10, timeout=10)
            elif kind == "get":
                await dev.keys.get(key_id=key_id, timeout=10)
            elif kind == "rename":
                resp = await dev.keys.rename(key_id=key_id, name=f"{user} key r{seq}", timeout=10)
                if resp.key.name != f"{user} key r{seq}":
                    stats.error(kind, f"renamed to {resp.key.name!r}")
            elif kind == "generate_delete":
                gen = await dev.keys.generate(name=f"{user} temp {seq}", expires_in_seconds=3600, timeout=10)
                await dev.keys.delete(key_id=gen.key.id, timeout=10)
            elif kind == "events":
                await admin.events.list(page_size=20, timeout=10)
            elif kind == "settings":
                await admin.tenant_settings.get(timeout=10)
            else:
                await client.health.check(timeout=10)
        except RpcError as exc:
            stats.error(kind, str(exc))
            if client.connection.closed:
                return
            continue
        stats.latencies[kind].append(time.perf_counter() - start)


async def sample_rss(pid: int, samples: list, stop_at: float) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() < stop_at:
        samples.append((round(loop.time() - start, 1), rss_bytes(pid)))
        await asyncio.sleep(1.0)


async def soak(server: Server, args) -> dict:
    rng = random.Random(args.seed)
    developers = await setup(server, args)
    stats = Stats()
    samples: list = []
    # pool_size=1: --connections counts connections, each carrying --concurrency calls.
    clients = [await Client.connect(*server.address, timeout=10, pool_size=1) for _ in range(args.connections)]
    loop = asyncio.get_running_loop()
    begin = loop.time()
    stop_at = begin + args.seconds
    tasks = [asyncio.create_task(sample_rss(server.pid, samples, stop_at))]
    for client in clients:
        for _ in range(args.concurrency):
            tasks.append(asyncio.create_task(
                worker(client, developers, stats, stop_at, random.Random(rng.random()))))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - begin
    for client in clients:
        await client.close()
    return report(args, stats, samples, elapsed, server)


def report(args, stats: Stats, samples: list, elapsed: float, server: Server) -> dict:
    calls = sum(len(v) for v in stats.latencies.values())
    all_latencies = [x for v in stats.latencies.values() for x in v]
    per_kind = {}
    for kind, values in sorted(stats.latencies.items()):
        per_kind[kind] = {
            "calls": len(values),
            "p50_ms": round(percentile(values, 50) * 1000, 2),
            "p90_ms": round(percentile(values, 90) * 1000, 2),
            "p99_ms": round(percentile(values, 99) * 1000, 2),
            "max_ms": round(max(values) * 1000, 2),
        }
    rss = [r for _, r in samples]
    n = len(rss)
    first, middle, last = rss[: n // 3], rss[n // 3: 2 * n // 3], rss[2 * n // 3:]
    middle_max = max(middle, default=0)
    last_max = max(last, default=0)
    growth = last_max - middle_max
    allowed = max(args.max_growth_mib * MIB, middle_max * args.max_growth_percent / 100)
    levels_off = n >= 6 and growth <= allowed
    result = {
        "seconds": round(elapsed, 1),
        "connections": args.connections,
        "concurrency_per_connection": args.concurrency,
        "calls": calls,
        "calls_per_second": round(calls / elapsed, 1) if elapsed else 0,
        "errors": sum(stats.errors.values()),
        "errors_by_kind": dict(stats.errors),
        "error_samples": stats.error_samples,
        "latency_all": {
            "p50_ms": round(percentile(all_latencies, 50) * 1000, 2),
            "p90_ms": round(percentile(all_latencies, 90) * 1000, 2),
            "p99_ms": round(percentile(all_latencies, 99) * 1000, 2),
            "max_ms": round(max(all_latencies, default=0) * 1000, 2),
        },
        "latency_by_kind": per_kind,
        "rss_mib": {
            "start": round(rss[0] / MIB, 1) if rss else 0,
            "max_first_third": round(max(first, default=0) / MIB, 1),
            "max_middle_third": round(middle_max / MIB, 1),
            "max_last_third": round(last_max / MIB, 1),
            "growth_last_vs_middle": round(growth / MIB, 2),
            "allowed_growth": round(allowed / MIB, 2),
            "levels_off": levels_off,
        },
        "rss_samples_mib": [(t, round(r / MIB, 1)) for t, r in samples],
        "server_alive": server.process.poll() is None,
    }
    return result


def print_report(r: dict) -> None:
    print(f"soak: {r['seconds']} s, {r['connections']} connections x {r['concurrency_per_connection']} in flight, "
          f"{r['calls']} calls ({r['calls_per_second']}/s), errors: {r['errors']}")
    a = r["latency_all"]
    print(f"  latency all: p50 {a['p50_ms']} ms, p90 {a['p90_ms']} ms, p99 {a['p99_ms']} ms, max {a['max_ms']} ms")
    for kind, s in r["latency_by_kind"].items():
        print(f"  {kind:16} {s['calls']:8} calls  p50 {s['p50_ms']:7} ms  p99 {s['p99_ms']:7} ms  max {s['max_ms']:7} ms")
    m = r["rss_mib"]
    print(f"  RSS MiB: start {m['start']}, max of first/middle/last third {m['max_first_third']}/"
          f"{m['max_middle_third']}/{m['max_last_third']}, growth {m['growth_last_vs_middle']} "
          f"(allowed {m['allowed_growth']}): {'levels off' if m['levels_off'] else 'DOES NOT LEVEL OFF'}")
    for sample in r["error_samples"][:10]:
        print(f"  error: {sample}")


def main(argv=None) -> int:
    args = parse_args(argv)
    server = Server(args.apikeysd)
    try:
        result = asyncio.run(soak(server, args))
    finally:
        status = server.stop()
    result["server_exit_status"] = status
    print_report(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    ok = result["errors"] == 0 and result["rss_mib"]["levels_off"] and result["server_alive"] and status == 0
    if ok:
        server.cleanup()
    else:
        print(f"soak FAILED (server data and stderr kept in {server.tmp})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
