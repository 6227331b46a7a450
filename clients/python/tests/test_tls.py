"""TLS and mutual TLS against a real apikeysd, with certificates made for the test by the
openssl command-line tool: a CA, a server certificate for 127.0.0.1, and a client
certificate CN=gateway that the server maps to service ``gateway``."""

from __future__ import annotations

import pathlib
import shutil
import ssl
import subprocess

import pytest

from apikeys_client import Client, ConnectError, operator, pb
from helpers import run

OPERATOR_SECRET = "o" * 40
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(directory: pathlib.Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


def _leaf(directory: pathlib.Path, name: str, cn: str, extensions: str, serial: int) -> None:
    (directory / f"{name}.ext").write_text(extensions)
    _openssl(directory, "req", "-new", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
    _openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-set_serial", str(serial), "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext")


@pytest.fixture
def certificates(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    d = tmp_path / "certs"
    d.mkdir()
    _openssl(d, "req", "-x509", *EC_KEY, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=apikeys test ca")
    _leaf(d, "server", "localhost", "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
          "subjectAltName=IP:127.0.0.1,DNS:localhost\n", 2)
    _leaf(d, "gateway", "gateway", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n", 3)
    return d


def test_mutual_tls_health_and_certificate_service(server_factory, certificates):
    d = certificates
    srv = server_factory("--tls-certificate", str(d / "server.pem"), "--tls-private-key", str(d / "server.key"),
                         "--tls-client-ca", str(d / "ca.pem"), "--tls-client-service", "gateway=gateway",
                         "--operator-credential", OPERATOR_SECRET)
    assert any("tls: on" in line for line in srv.stdout_lines), srv.stdout_lines

    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    ctx.load_cert_chain(str(d / "gateway.pem"), str(d / "gateway.key"))
    no_cert = ssl.create_default_context(cafile=str(d / "ca.pem"))

    async def main():
        # Without a client certificate the server refuses the connection.
        with pytest.raises(ConnectError):
            plain = await Client.connect(*srv.address, ssl=no_cert, timeout=5)
            await plain.health.check(timeout=5)

        async with await Client.connect(*srv.address, ssl=ctx, credential=operator(OPERATOR_SECRET)) as op:
            assert (await op.health.check()).status == pb.HealthCheckResponse.SERVING
            await op.directory.create_tenant(tenant_id="acme", name="Acme")
            await op.directory.create_user(tenant_id="acme", user_id="alice",
                                           roles=[pb.ROLE_TENANT_ADMIN, pb.ROLE_DEVELOPER], licensed=True)
            # No authorization: the certificate's service acts for alice ...
            alice = op.with_auth(None, tenant="acme", user="alice")
            await alice.tenant_settings.update(api_keys_enabled=True)
            generated = await alice.keys.generate(name="ci")
            # ... or, with no metadata at all, as itself: it may verify.
            gateway = op.with_auth(None, tenant=None, user=None)
            verified = await gateway.verification.verify(secret=generated.secret)
            assert verified.principal.user_id == "alice"

    run(main())
