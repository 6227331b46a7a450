"""Fixtures for the console's browser tests: a real ``apikeysd``, a real ``apikeys-console``
in development mode, and headless Chromium driven by Selenium through Debian's chromedriver.

Binaries: ``$APIKEYSD`` and ``$APIKEYS_CONSOLE``, else ``<repo>/.build/debug/``.
Screenshots go to ``$CONSOLE_SCREENSHOTS`` (default ``.build/console-screenshots``);
``make console-screenshots`` points it at ``docs/console`` to refresh the README's pictures.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
PYTHON_CLIENT = REPO_ROOT / "clients" / "python"
sys.path.insert(0, str(PYTHON_CLIENT))
sys.path.insert(0, str(PYTHON_CLIENT / "tests"))

# The Python suite's server fixture, loaded under a name of its own (both files are "conftest").
_spec = importlib.util.spec_from_file_location("apikeysd_fixtures", PYTHON_CLIENT / "tests" / "conftest.py")
apikeysd_fixtures = importlib.util.module_from_spec(_spec)
sys.modules["apikeysd_fixtures"] = apikeysd_fixtures  # dataclasses look their module up there
_spec.loader.exec_module(apikeysd_fixtures)

from apikeys_client import Client, operator, pb, service  # noqa: E402
from helpers import secret_file  # noqa: E402

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
CONSOLE_SECRET = "console-browser-tests-act-" + secrets.token_hex(16)
VERIFIER_SECRET = "console-browser-tests-verify-" + secrets.token_hex(16)
SCREENSHOTS = pathlib.Path(os.environ.get("CONSOLE_SCREENSHOTS", REPO_ROOT / ".build" / "console-screenshots"))


def console_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get("APIKEYS_CONSOLE", str(REPO_ROOT / ".build" / "debug" / "apikeys-console")))


class ConsoleProcess:
    """A running apikeys-console and the log it wrote (to check no secret reaches it)."""

    def __init__(self, process: subprocess.Popen, port: int, log_path: str):
        self.process = process
        self.port = port
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_console(server, *args: str, log_dir: str) -> ConsoleProcess:
    """Start apikeys-console on a free port; wait for its "listening on" line."""
    binary = console_path()
    if not binary.exists():
        pytest.fail(f"apikeys-console not found at {binary}: build it (swift build --product apikeys-console) "
                    "or set APIKEYS_CONSOLE", pytrace=False)
    credential = secret_file(f"# the console's service credential (scope act)\n{CONSOLE_SECRET}\n")
    log_path = os.path.join(log_dir, f"console-{secrets.token_hex(4)}.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([str(binary), "--port", "0", "--server", f"127.0.0.1:{server.port}",
                             "--service-credential-file", credential, *args],
                            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    found: dict[str, int] = {}
    ready = threading.Event()

    def pump() -> None:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            with open(log_path, "a") as f:  # stdout joins the log the secret check reads
                f.write(line)
            if "apikeys-console listening on " in line:
                found["port"] = int(line.rsplit(":", 1)[1])
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    ready.wait(30)
    if "port" not in found:
        proc.kill()
        with open(log_path, errors="replace") as f:
            pytest.fail(f"apikeys-console did not start: exit={proc.poll()}\n{f.read()[-3000:]}", pytrace=False)
    return ConsoleProcess(proc, found["port"], log_path)


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="apikeys-console-test-") as tmp:
        yield tmp


@pytest.fixture(scope="session")
def server(workdir):
    data_dir = os.path.join(workdir, "data")
    os.makedirs(data_dir)
    creds = secret_file(f"console act {CONSOLE_SECRET}\nverifier verify {VERIFIER_SECRET}\n")
    srv = apikeysd_fixtures.start_server(data_dir, "--service-credentials-file", creds, conformance=False)
    if not srv.operator_credential:
        srv.stop()
        pytest.fail("apikeysd printed no operator credential on its first start", pytrace=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def console(server, workdir):
    proc = start_console(server, "--dev", log_dir=workdir)
    yield proc
    proc.stop()


class Api:
    """apikeysd through the Python client: the operator, the console's service credential
    acting for a user, and a verifying service."""

    def __init__(self, server):
        self.server = server

    def _run(self, make):
        async def go():
            client = await Client.connect(*self.server.address)
            try:
                return await make(client)
            finally:
                await client.close()
        return asyncio.run(asyncio.wait_for(go(), 30))

    def as_operator(self, make):
        return self._run(lambda c: make(c.with_auth(operator(self.server.operator_credential))))

    def acting(self, tenant: str, user: str, make):
        return self._run(lambda c: make(c.with_auth(service(CONSOLE_SECRET), tenant=tenant, user=user)))

    def verify(self, secret: str):
        """The principal, or the RpcError apikeysd answered."""
        from apikeys_client import RpcError

        async def call(c):
            try:
                return await c.with_auth(service(VERIFIER_SECRET), tenant=None, user=None).verification.verify(secret=secret)
            except RpcError as error:
                return error
        return self._run(call)

    def key(self, tenant: str, user: str, key_id: str):
        return self.acting(tenant, user, lambda c: c.keys.get(key_id=key_id)).key


_tenant_numbers = itertools.count(1)


class Tenant:
    """A fresh tenant with admin ``alice`` (TenantAdmin only) and ``bob`` (no role, no
    license): each test starts from the guide's defaults (R2: API keys disabled)."""

    def __init__(self, api: Api):
        self.api = api
        self.id = f"t{next(_tenant_numbers)}-{secrets.token_hex(3)}"

        async def make(op):
            await op.directory.create_tenant(tenant_id=self.id, name=f"Tenant {self.id}")
            await op.directory.create_user(tenant_id=self.id, user_id="alice", display_name="Alice Admin",
                                           roles=[pb.ROLE_TENANT_ADMIN])
            await op.directory.create_user(tenant_id=self.id, user_id="bob", display_name="Bob Builder")
        api.as_operator(make)

    def ready_for_keys(self, user: str = "bob") -> None:
        """API keys on, ``user`` a licensed developer (R17), through the API."""
        async def make(c):
            await c.tenant_settings.update(api_keys_enabled=True)
            await c.directory.assign_role(user_id=user, role=pb.ROLE_DEVELOPER)
            await c.directory.set_license(user_id=user, licensed=True)
        self.api.acting(self.id, "alice", make)

    def generate(self, name: str, user: str = "bob"):
        return self.api.acting(self.id, user, lambda c: c.keys.generate(name=name, expires_in_seconds=3600))


@pytest.fixture(scope="session")
def api(server):
    return Api(server)


@pytest.fixture
def tenant(api):
    return Tenant(api)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from Debian, with Debian's chromedriver: Selenium Manager is never
    asked to download anything."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not os.path.exists(CHROMEDRIVER) or not os.path.exists(CHROMIUM):
        pytest.fail("chromium and chromium-driver are missing: run scripts/deps.sh", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--lang=en-US"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser, console):
    """The browser, signed out, at desktop width."""
    browser.set_window_size(1280, 900)
    browser.get(console.url + "/signin")
    browser.delete_all_cookies()
    yield browser
    browser.delete_all_cookies()


def screenshot(driver, name: str) -> None:
    """Saves the whole page (its full height) as ``name``.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 600)")
    old = driver.get_window_size()
    driver.set_window_size(width, min(height + 140, 2400))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    driver.set_window_size(old["width"], old["height"])
    time.sleep(0.05)
