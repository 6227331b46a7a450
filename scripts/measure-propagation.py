#!/usr/bin/env python3
"""X21 propagation time between apikeysd servers on one PostgreSQL database (issue 10).

Starts a throwaway PostgreSQL cluster (scripts/postgres-cluster.sh; or uses
$APIKEYS_TEST_POSTGRES, in a fresh schema) and three apikeysd ($APIKEYSD, else
.build/debug/apikeysd). Then, ITERATIONS times:

- generate a key through server A; from the acknowledgement, poll Verify on B (a tight loop on
  an open connection) until it verifies: "generate -> verifies on B";
- revoke that key through A; from the acknowledgement, poll Verify on B and on C at once until
  each refuses it: "revoke -> refused on B", "... on C", and the later of the two.

Prints p50/p99/max in milliseconds; --json FILE writes them.

    APIKEYSD=.build/release/apikeysd scripts/measure-propagation.py --iterations 300 --json prop.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "clients" / "python"))
sys.path.insert(0, str(ROOT / "clients" / "python" / "tests"))

from multiserver import Deployment, PgCluster, connect, is_principal, is_refused, new_schema, verify_outcome  # noqa: E402
from reliability import summary_ms  # noqa: E402


async def poll(node, secret: str, done, timeout: float) -> float:
    """Seconds until ``done(Verify result)``; polls back to back."""
    start = time.perf_counter()
    while True:
        if done(await verify_outcome(node, secret)):
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"not propagated within {timeout} s")


async def measure(servers, iterations: int, timeout: float) -> dict:
    a, b, c = nodes = await connect(servers)
    samples = {"generate_to_verified_on_b": [], "revoke_to_refused_on_b": [], "revoke_to_refused_on_c": [],
               "revoke_to_refused_everywhere": []}
    try:
        await a.op.directory.create_tenant(tenant_id="acme", name="Acme")
        from apikeys_client import pb
        await a.op.directory.create_user(tenant_id="acme", user_id="alice", roles=[pb.ROLE_TENANT_ADMIN,
                                         pb.ROLE_DEVELOPER], licensed=True)
        alice = a.user("alice")
        await alice.tenant_settings.update(api_keys_enabled=True, max_keys_per_user=1000,
                                           excessive_use_per_minute=10_000_000)
        for i in range(iterations):
            key = await alice.keys.generate(name=f"propagation {i}", expires_in_seconds=3600)
            samples["generate_to_verified_on_b"].append(await poll(b, key.secret, is_principal, timeout))
            await poll(c, key.secret, is_principal, timeout)  # so C's measurement starts from "verifies"
            await alice.keys.revoke(key_id=key.key.id)
            on_b, on_c = await asyncio.gather(poll(b, key.secret, lambda r: is_refused(r, "revoked"), timeout),
                                              poll(c, key.secret, lambda r: is_refused(r, "revoked"), timeout))
            samples["revoke_to_refused_on_b"].append(on_b)
            samples["revoke_to_refused_on_c"].append(on_c)
            samples["revoke_to_refused_everywhere"].append(max(on_b, on_c))
    finally:
        for n in nodes:
            await n.close()
    return {name: summary_ms(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a change counts as lost")
    parser.add_argument("--json", metavar="FILE", help="write the numbers to FILE")
    args = parser.parse_args()

    cluster = PgCluster.from_environment_or_start()
    with tempfile.TemporaryDirectory(prefix="apikeys-propagation-") as logs:
        deployment = Deployment(cluster, new_schema("propagation"), logs)
        try:
            servers = deployment.start(3)
            started = time.monotonic()
            results = asyncio.run(measure(servers, args.iterations, args.timeout))
            seconds = time.monotonic() - started
        finally:
            deployment.stop()
            try:
                cluster.psql(f'DROP SCHEMA IF EXISTS "{deployment.schema}" CASCADE')
            except Exception:  # noqa: BLE001
                pass
            cluster.stop()
    report = {"servers": 3, "iterations": args.iterations, "seconds": round(seconds, 1), **results}
    print(f"propagation over 3 servers, {args.iterations} iterations ({seconds:.1f} s), milliseconds:")
    for name, s in results.items():
        print(f"  {name:32} p50 {s['p50_ms']:8.2f}  p99 {s['p99_ms']:8.2f}  max {s['max_ms']:8.2f}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
