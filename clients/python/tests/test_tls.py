"""TLS and mutual TLS against a real apikeysd, with certificates made for the test by the
openssl command-line tool: a CA, a server certificate for 127.0.0.1, a client certificate
with the SAN URI spiffe://example.org/gateway that the server maps to service ``gateway``,
and the certificate of finding 7 (CN=intern-laptop, SAN URI:gateway), which maps to nothing."""

from __future__ import annotations

import pathlib
import shutil
import ssl
import subprocess

import pytest

from apikeys_client import Client, ConnectError, RpcError, StatusCode, operator, pb
from conftest import apikeysd_path
from helpers import run, secret_file

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
    client = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
    _leaf(d, "gateway", "gateway", client + "subjectAltName=URI:spiffe://example.org/gateway\n", 3)
    _leaf(d, "intern", "intern-laptop", client + "subjectAltName=URI:gateway\n", 4)
    return d


def _mtls_server(server_factory, d):
    return server_factory("--tls-certificate", str(d / "server.pem"), "--tls-private-key", str(d / "server.key"),
                          "--tls-client-ca", str(d / "ca.pem"),
                          "--tls-client-service", "spiffe://example.org/gateway=gateway:act",
                          "--operator-credential-file", secret_file(OPERATOR_SECRET))


def test_mutual_tls_health_and_certificate_service(server_factory, certificates):
    d = certificates
    srv = _mtls_server(server_factory, d)
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


def test_mtls_identity_only_by_the_exact_configured_uri(server_factory, certificates):
    """Finding 7: CN=intern-laptop with SAN URI:gateway used to act as service gateway (any
    name in the certificate matched). Only the exact configured URI names a service now."""
    d = certificates
    srv = _mtls_server(server_factory, d)
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    ctx.load_cert_chain(str(d / "intern.pem"), str(d / "intern.key"))

    async def main():
        async with await Client.connect(*srv.address, ssl=ctx, credential=operator(OPERATOR_SECRET)) as op:
            await op.directory.create_tenant(tenant_id="acme", name="Acme")
            await op.directory.create_user(tenant_id="acme", user_id="alice", roles=[pb.ROLE_TENANT_ADMIN], licensed=True)
            for who in (op.with_auth(None, tenant="acme", user="alice"), op.with_auth(None, tenant=None, user=None)):
                with pytest.raises(RpcError) as refused:
                    await who.directory.list_users()
                assert refused.value.code == StatusCode.UNAUTHENTICATED, refused.value

    run(main())


def test_tls_client_service_needs_a_uri_and_a_scope(tmp_path, certificates):
    """The old CN=NAME form (and a URI with no scope) stops the start with a usage error."""
    d = certificates
    for mapping in ("gateway=gateway", "spiffe://example.org/gateway=gateway"):
        proc = subprocess.run([str(apikeysd_path()), "--data-dir", str(tmp_path / "data"), "--port", "0",
                               "--tls-certificate", str(d / "server.pem"), "--tls-private-key", str(d / "server.key"),
                               "--tls-client-ca", str(d / "ca.pem"), "--tls-client-service", mapping],
                              capture_output=True, timeout=30)
        assert proc.returncode == 64, (mapping, proc.returncode, proc.stderr)
        assert b"tls-client-service" in proc.stderr
