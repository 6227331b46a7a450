"""Shared by the reliability tests (hostile clients, crash safety, secret hygiene, soak).

Reads the server's memory from ``/proc``, measures a well-behaved client's latency from a
separate process (so a busy attacker in this process cannot distort it), and sets up a
tenant with an admin and developers through the operator credential.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
from dataclasses import dataclass

from apikeys_client import Client, operator, pb, service
from helpers import secret_file

HERE = pathlib.Path(__file__).resolve().parent

#: The service credential the reliability servers are started with (X13: 32+ characters).
SERVICE_SECRET = "reliability-service-credential-0123456789abcdef"
SERVICE_ARGS = ("--service-credentials-file", secret_file(f"reliability act {SERVICE_SECRET}\n"))

MIB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (VmRSS in /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def fd_count(pid: int) -> int:
    """Open file descriptors of a process (sockets included)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def percentile(values, p: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(p / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def summary_ms(latencies_s) -> dict:
    """p50, p99 and max in milliseconds, and the count."""
    return {
        "n": len(latencies_s),
        "p50_ms": round(percentile(latencies_s, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies_s, 99) * 1000, 2),
        "max_ms": round(max(latencies_s, default=0.0) * 1000, 2),
    }


class LatencyProbe:
    """A well-behaved client in its own process: Health/Check every ``interval`` seconds.

        probe = LatencyProbe(server.address).start()
        ... attack ...
        result = probe.stop()   # {"latencies": [...], "errors": [...]}
    """

    def __init__(self, address, interval: float = 0.01):
        self.address = address
        self.interval = interval
        self.process: subprocess.Popen | None = None

    def start(self) -> "LatencyProbe":
        host, port = self.address
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "latency_probe.py"), host, str(port), str(self.interval)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        # Wait for its first successful call, so "during" starts when the probe is live.
        line = self.process.stdout.readline()
        if line.strip() != b"ready":
            err = self.process.stderr.read().decode(errors="replace")
            raise RuntimeError(f"latency probe did not start: {line!r} {err}")
        return self

    def stop(self) -> dict:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=20)
        try:
            return json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError(f"latency probe printed no result: {out!r} {err!r}") from None

    def __enter__(self) -> "LatencyProbe":
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def measure_latency(address, seconds: float, interval: float = 0.01) -> dict:
    """Health latencies with nothing else going on (the baseline)."""
    import time
    probe = LatencyProbe(address, interval).start()
    time.sleep(seconds)
    return probe.stop()


def assert_latency_bounded(baseline: dict, during: dict, *, bound_ms: float = 250.0) -> None:
    """The well-behaved client kept working during the attack: no errors, a generous p99 bound.

    The bound is absolute (the machine is shared, so a ratio to a ~1 ms baseline would be
    flaky) and well under what a blocked event loop or a stalled server would show.
    """
    assert not during["errors"], f"the well-behaved client got errors: {during['errors'][:5]}"
    assert len(during["latencies"]) >= 1, f"the well-behaved client made only {len(during['latencies'])} calls"
    before, after = summary_ms(baseline["latencies"]), summary_ms(during["latencies"])
    assert after["p99_ms"] < bound_ms, f"health p99 {after} during the attack vs {before} before"


@dataclass
class Tenant:
    """A tenant set up through the operator: an admin (also a licensed developer), developers."""

    operator: Client
    admin: Client
    developers: dict
    verifier: Client
    tenant_id: str


async def provision(address, operator_secret: str, *, tenant_id: str = "acme",
                    developers=("bob",), max_keys_per_user: int = 1000,
                    client: Client | None = None) -> Tenant:
    """Create a tenant, ``alice`` (TenantAdmin + Developer, licensed) and licensed developers;
    enable API keys with room for ``max_keys_per_user`` keys. Calls run on one connection."""
    op = client.with_auth(operator(operator_secret)) if client else \
        await Client.connect(*address, credential=operator(operator_secret))
    await op.directory.create_tenant(tenant_id=tenant_id, name=tenant_id.title())
    await op.directory.create_user(tenant_id=tenant_id, user_id="alice", display_name="Alice",
                                   roles=[pb.ROLE_TENANT_ADMIN, pb.ROLE_DEVELOPER], licensed=True)
    for user in developers:
        await op.directory.create_user(tenant_id=tenant_id, user_id=user, display_name=user.title(),
                                       roles=[pb.ROLE_DEVELOPER], licensed=True)
    admin = op.with_auth(service(SERVICE_SECRET), tenant=tenant_id, user="alice")
    await admin.tenant_settings.update(api_keys_enabled=True, max_keys_per_user=max_keys_per_user,
                                       max_expiry_seconds=365 * 24 * 3600)
    devs = {user: op.with_auth(service(SERVICE_SECRET), tenant=tenant_id, user=user) for user in developers}
    verifier = op.with_auth(service(SERVICE_SECRET), tenant=None, user=None)
    return Tenant(op, admin, devs, verifier, tenant_id)


async def all_events(admin: Client, **filters) -> list:
    """Every event the admin can list (newest first), following page tokens."""
    events, token = [], ""
    while True:
        page = await admin.events.list(page_size=100, page_token=token, **filters)
        events.extend(page.events)
        token = page.next_page_token
        if not token:
            return events


async def all_keys(admin: Client, **filters) -> list:
    keys, token = [], ""
    while True:
        page = await admin.keys.list(page_size=100, page_token=token, **filters)
        keys.extend(page.keys)
        token = page.next_page_token
        if not token:
            return keys
