"""Several apikeysd servers on one PostgreSQL database (issue 10, X21): the cluster, the
servers and a few async helpers, shared by test_several_servers.py and
scripts/measure-propagation.py.

The cluster is ``$APIKEYS_TEST_POSTGRES`` (a ``postgres://`` URL) when set, else a throwaway
one from ``scripts/postgres-cluster.sh start DIR`` (initdb as the ``postgres`` user in a
temporary directory), stopped again at the end. Every deployment gets a schema of its own
(``?schema=NAME``; the servers create it).
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

from apikeys_client import Client, RpcError, StatusCode, operator, pb, service
from conftest import REPO_ROOT, ServerProcess, start_server
from helpers import secret_file

CLUSTER_SCRIPT = REPO_ROOT / "scripts" / "postgres-cluster.sh"

OPERATOR_SECRET = "several-servers-operator-credential-0123456789"
SERVICE_SECRET = "several-servers-service-credential-0123456789ab"


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL to test with (no URL given and the cluster could not be started)."""


# --- the PostgreSQL cluster ------------------------------------------------------------

class PgCluster:
    """A PostgreSQL server: its URL, and (when this process started it) its directory."""

    def __init__(self, url: str, directory: str | None = None):
        self.url = url
        self.directory = directory

    @property
    def owned(self) -> bool:
        return self.directory is not None

    @classmethod
    def from_environment_or_start(cls) -> "PgCluster":
        url = os.environ.get("APIKEYS_TEST_POSTGRES", "").strip()
        return cls(url) if url else cls.start()

    @classmethod
    def start(cls) -> "PgCluster":
        if not CLUSTER_SCRIPT.exists():
            raise ClusterUnavailable(f"{CLUSTER_SCRIPT} is missing and APIKEYS_TEST_POSTGRES is not set")
        directory = tempfile.mkdtemp(prefix="apikeys-pg-")
        proc = subprocess.run([str(CLUSTER_SCRIPT), "start", directory], capture_output=True, text=True, timeout=120)
        urls = [l.strip() for l in proc.stdout.splitlines() if l.strip().startswith("postgres://")]
        if proc.returncode != 0 or not urls:
            subprocess.run([str(CLUSTER_SCRIPT), "stop", directory], capture_output=True, timeout=60)
            shutil.rmtree(directory, ignore_errors=True)
            raise ClusterUnavailable(f"{CLUSTER_SCRIPT} start failed (exit {proc.returncode}):\n"
                                     f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return cls(urls[-1], directory)

    def stop(self) -> None:
        """Stops a cluster this process started; leaves a given one alone."""
        if self.directory is None:
            return
        subprocess.run([str(CLUSTER_SCRIPT), "stop", self.directory], capture_output=True, timeout=120)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    # The URL's parts.
    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.url).port or 5432

    def store_url(self, schema: str) -> str:
        """The URL of one schema in this cluster (``?schema=NAME``)."""
        parts = urllib.parse.urlsplit(self.url)
        query = urllib.parse.parse_qsl(parts.query)
        query = [(k, v) for k, v in query if k != "schema"] + [("schema", schema)]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def psql(self, sql: str, timeout: float = 30.0) -> list[list[str]]:
        """Runs SQL with ``psql`` (rows of unaligned, tab-separated fields)."""
        parts = urllib.parse.urlsplit(self.url)
        plain = urllib.parse.urlunsplit(parts._replace(query=""))  # psql does not know ?schema=
        proc = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", plain,
                               "-c", sql], capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed ({proc.returncode}): {proc.stderr.strip()}\nSQL: {sql}")
        return [line.split("\t") for line in proc.stdout.splitlines() if line]

    # Stopping and starting the database under running servers (only a cluster of our own).
    def _data_directory(self) -> str:
        assert self.directory is not None, "only a cluster this process started can be stopped"
        for root, _dirs, files in os.walk(self.directory):
            if "PG_VERSION" in files and "postgresql.conf" in files:
                return root
        raise RuntimeError(f"no PostgreSQL data directory under {self.directory}")

    def _pg_ctl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        pg_ctl = shutil.which("pg_ctl") or "/usr/lib/postgresql/15/bin/pg_ctl"
        command = [pg_ctl, *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def stop_database(self) -> None:
        """``pg_ctl stop -m fast``: every connection is closed, nothing answers on the port."""
        data = self._data_directory()
        proc = self._pg_ctl("-D", data, "-m", "fast", "-w", "stop")
        assert proc.returncode == 0, f"pg_ctl stop failed: {proc.stdout}{proc.stderr}"

    def start_database(self) -> None:
        """Starts it again on the same port (the cluster script keeps it in DIR/port)."""
        assert self.directory is not None
        proc = subprocess.run([str(CLUSTER_SCRIPT), "start", self.directory], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0 and self.url.split("?")[0] in proc.stdout, \
            f"restart failed ({proc.returncode}): {proc.stdout}{proc.stderr}"

    def backends_of(self, pid: int) -> list[int]:
        """The PostgreSQL backend PIDs serving the connections of process ``pid`` (matched by
        the client's TCP port: /proc/PID/fd sockets -> /proc/net/tcp -> pg_stat_activity)."""
        ports = client_ports(pid, self.port)
        if not ports:
            return []
        rows = self.psql("SELECT pid FROM pg_stat_activity WHERE client_port IN (%s)" % ",".join(map(str, ports)))
        return sorted(int(r[0]) for r in rows)


def client_ports(pid: int, remote_port: int) -> list[int]:
    """Local ports of ``pid``'s TCP connections to ``remote_port``."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
                    if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == remote_port and state == "01":
                        ports.append(int(local.rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            pass
    return sorted(ports)


def new_schema(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# --- servers ------------------------------------------------------------------------------

def credential_args() -> tuple[str, ...]:
    """Every server accepts the same operator and service credentials (from files, X18)."""
    return ("--operator-credential-file", secret_file(OPERATOR_SECRET),
            "--service-credentials-file", secret_file(f"multi act {SERVICE_SECRET}\n"))


def start_store_server(store_url: str, log_dir: str, name: str, *extra_args: str) -> ServerProcess:
    """One apikeysd on ``store_url``; its stderr goes to ``log_dir/name.stderr.log``."""
    marker = os.path.join(log_dir, name)
    os.makedirs(marker, exist_ok=True)
    # Long idle timeout: a test waits seconds (staleness, flushes) between calls on a connection.
    return start_server(marker, "--http-port", "0", "--idle-timeout", "300", *credential_args(), *extra_args,
                        store=store_url)


def http_port(srv: ServerProcess, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(srv.stdout_lines):
            if line.strip().startswith("http: http://"):
                return int(line.split("http://", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1])
        time.sleep(0.05)
    raise AssertionError(f"no http line in {srv.stdout_lines}")


def http_get(port: int, path: str, timeout: float = 10.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def stderr_text(srv: ServerProcess) -> str:
    try:
        with open(srv.stderr_path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


@dataclass
class Deployment:
    """Servers sharing one schema."""

    cluster: PgCluster
    schema: str
    log_dir: str
    servers: list = field(default_factory=list)

    @property
    def store_url(self) -> str:
        return self.cluster.store_url(self.schema)

    def start(self, count: int, *extra_args: str) -> list[ServerProcess]:
        """Starts ``count`` more servers at once (they migrate the schema concurrently)."""
        from concurrent.futures import ThreadPoolExecutor
        first = len(self.servers)
        with ThreadPoolExecutor(count) as pool:
            started = list(pool.map(lambda i: start_store_server(self.store_url, self.log_dir, f"s{first + i}",
                                                                 *extra_args), range(count)))
        self.servers.extend(started)
        return started

    def stop(self) -> list:
        problems = []
        for srv in self.servers:
            status = srv.stop()
            if status not in (0, None, -9):
                problems.append(f"{srv.address}: exit {status}\n{srv.stderr_tail()}")
        return problems


# --- clients --------------------------------------------------------------------------

@dataclass
class Node:
    """The clients of one server: the operator, admins/users by name, and the verifier."""

    client: Client

    @property
    def op(self) -> Client:
        return self.client.with_auth(operator(OPERATOR_SECRET), tenant=None, user=None)

    def user(self, user_id: str, tenant: str = "acme") -> Client:
        return self.client.with_auth(service(SERVICE_SECRET), tenant=tenant, user=user_id)

    @property
    def verifier(self) -> Client:
        return self.client.with_auth(service(SERVICE_SECRET), tenant=None, user=None)

    async def close(self) -> None:
        await self.client.close()


async def connect(servers) -> list[Node]:
    return [Node(await Client.connect(*srv.address, timeout=10)) for srv in servers]


async def provision(node: Node, *, tenant: str = "acme", admins=("alice",), developers=("bob",),
                    max_keys_per_user: int = 1000, excessive_use_per_minute: int | None = None,
                    settle: list | None = None) -> None:
    """A tenant with licensed admins (also developers) and licensed developers; API keys on.
    With ``settle`` (nodes), returns once every one of them has applied all of it."""
    await node.op.directory.create_tenant(tenant_id=tenant, name=tenant.title())
    for user in admins:
        await node.op.directory.create_user(tenant_id=tenant, user_id=user, display_name=user.title(),
                                            roles=[pb.ROLE_TENANT_ADMIN, pb.ROLE_DEVELOPER], licensed=True)
    for user in developers:
        await node.op.directory.create_user(tenant_id=tenant, user_id=user, display_name=user.title(),
                                            roles=[pb.ROLE_DEVELOPER], licensed=True)
    update = dict(api_keys_enabled=True, max_keys_per_user=max_keys_per_user, max_expiry_seconds=30 * 24 * 3600)
    if excessive_use_per_minute is not None:
        update["excessive_use_per_minute"] = excessive_use_per_minute
    await node.user(admins[0], tenant).tenant_settings.update(**update)
    if settle:
        await barrier(node, settle, admins[0], tenant)


async def barrier(via: Node, nodes, admin: str = "alice", tenant: str = "acme", timeout: float = 10.0) -> None:
    """Returns once every node has applied every change committed before this call: a key
    generated now through ``via`` verifies on each (the change log is read in commit order)."""
    key = await via.user(admin, tenant).keys.generate(name="barrier", expires_in_seconds=3600)
    for i, n in enumerate(nodes):
        await until(lambda n=n: _verifies(n, key.secret), timeout, f"the barrier key on node {i + 1}")
    await via.user(admin, tenant).keys.delete(key_id=key.key.id)


async def _verifies(node: "Node", secret: str) -> bool:
    return is_principal(await verify_outcome(node, secret))


async def outcome(coro):
    """"ok" and the response, or the RpcError (not raised)."""
    try:
        return "ok", await coro
    except RpcError as exc:
        return "error", exc


async def verify_outcome(node: Node, secret: str, timeout: float = 10.0):
    """The response of Verify, or the RpcError it raised."""
    try:
        return await node.verifier.verification.verify(secret=secret, timeout=timeout)
    except RpcError as exc:
        return exc


async def until(check, timeout: float = 5.0, what: str = "condition", interval: float = 0.005) -> float:
    """Awaits ``check()`` (a coroutine function) until it returns a truthy value; the seconds
    it took. On timeout the last value is named in the failure."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    last = None
    while True:
        last = await check()
        if last is True or (last and not isinstance(last, (RpcError, Exception))):
            return loop.time() - start
        if loop.time() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")
        await asyncio.sleep(interval)


def is_refused(result, reason: str | None = None) -> bool:
    return isinstance(result, RpcError) and result.code == StatusCode.UNAUTHENTICATED and \
        (reason is None or result.reason == reason)


def is_principal(result) -> bool:
    return not isinstance(result, Exception)
