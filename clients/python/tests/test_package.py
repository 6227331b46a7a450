"""The package as installed: its protobuf runtime loads the committed _pb2 modules, messages
round-trip, the generated services are current, and a Verify works against a real server.
`make test-python-protobuf` runs this file in venvs holding the lowest and the highest
protobuf that pyproject.toml accepts."""

import os
import re
import pathlib
import subprocess
import sys
import uuid

import google.protobuf

import apikeys_client
from apikeys_client import Client, SyncClient, methods, operator, pb, service, services
from apikeys_client._base import AsyncService
from helpers import run

CLIENT_ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_the_package_under_test_is_the_one_meant():
    print(f"protobuf {google.protobuf.__version__}, apikeys_client from {apikeys_client.__file__}")
    installed = not pathlib.Path(apikeys_client.__file__).resolve().is_relative_to(CLIENT_ROOT)
    assert installed == bool(os.environ.get("APIKEYS_TEST_INSTALLED"))
    expected = os.environ.get("APIKEYS_TEST_PROTOBUF")
    if expected:
        assert google.protobuf.__version__ == expected


def test_messages_round_trip():
    gen = pb.GenerateKeyRequest(name="ci ☺", expires_in_seconds=3600)
    assert pb.GenerateKeyRequest.FromString(gen.SerializeToString()) == gen
    assert gen.WhichOneof("expiry") == "expires_in_seconds"
    update = pb.UpdateSettingsRequest(api_keys_enabled=False)  # a oneof set to its default
    again = pb.UpdateSettingsRequest.FromString(update.SerializeToString())
    assert again.WhichOneof("api_keys_enabled_update") == "api_keys_enabled"
    echo = pb.EchoResponse(payload=b"\0\xff", metadata={"x-a": "b"})
    assert dict(pb.EchoResponse.FromString(echo.SerializeToString()).metadata) == {"x-a": "b"}
    frame = pb.Frame(request=pb.Request(call_id=7, method=methods.get("Keys", "List").path))
    assert pb.Frame.FromString(frame.SerializeToString()).request.call_id == 7


def test_method_table_matches_the_descriptors():
    assert len(methods.METHODS) == 27
    verify = methods.get("Verification", "Verify")
    assert (verify.path, verify.request_type, verify.response_type) == (
        "/apikeys.v1.Verification/Verify", pb.VerifyRequest, pb.VerifyResponse)
    # Every method has exactly one typed method, on the service's class, async and sync.
    typed = {}
    for cls in vars(services).values():
        if isinstance(cls, type) and issubclass(cls, AsyncService) and cls is not AsyncService:
            sync = getattr(services, cls.__name__ + "Sync")
            for m in (v for v in vars(cls).values() if isinstance(v, methods.Method)):
                name = re.sub(r"(?<=[a-z])([A-Z])", r"_\1", m.name).lower()
                assert callable(getattr(cls, name)) and callable(getattr(sync, name)), m
                typed[m.path] = m
    assert typed == methods.METHODS


def test_generated_services_are_current():
    """services.py is what the generator makes from the _pb2 descriptors (read by this
    protobuf runtime: under `make test-python-protobuf`, at both ends of the range)."""
    done = subprocess.run([sys.executable, str(CLIENT_ROOT / "tools" / "generate_services.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def provision(address, operator_secret: str) -> tuple[str, str]:
    """A tenant with a licensed developer and a key; returns (key secret, verify-scope
    credential secret)."""
    tenant = f"pkg-{uuid.uuid4().hex[:8]}"

    async def main():
        async with Client(*address, credential=operator(operator_secret)) as op:
            await op.directory.create_tenant(tenant_id=tenant, name="Package test")
            await op.directory.create_user(tenant_id=tenant, user_id="dev", licensed=True,
                                           roles=[pb.ROLE_TENANT_ADMIN, pb.ROLE_DEVELOPER])
            act = await op.directory.create_service_credential(name=f"{tenant}-console",
                                                               scope=pb.CREDENTIAL_SCOPE_ACT)
            verifier = await op.directory.create_service_credential(name=f"{tenant}-edge",
                                                                    scope=pb.CREDENTIAL_SCOPE_VERIFY)
            dev = op.with_auth(service(act.secret), tenant=tenant, user="dev")
            await dev.tenant_settings.update(api_keys_enabled=True)
            key = await dev.keys.generate(name="package test", expires_in_seconds=3600)
            return key.secret, verifier.secret
    return run(main())


def test_verify_against_the_server(server):
    key, verifier = provision(server.address, server.operator_credential)

    async def main():
        async with Client(*server.address, credential=service(verifier)) as edge:
            return await edge.verification.verify(secret=key, timeout=5)
    principal = run(main()).principal
    assert principal.user_id == "dev" and principal.key_id

    with SyncClient(*server.address, credential=service(verifier)) as edge:
        assert edge.verification.verify(secret=key, timeout=5).principal == principal


def test_readme_verify_example(server):
    """The top README's Python example, as written, against a real server."""
    readme = (CLIENT_ROOT.parent.parent / "README.md").read_text()
    block = readme.split("### Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    key, verifier = provision(server.address, server.operator_credential)
    scope = {"VERIFY_CREDENTIAL": verifier}
    exec(block.replace('"127.0.0.1", 7420', f'"{server.host}", {server.port}'), scope)
    try:
        assert scope["principal_of"](key).user_id == "dev"
        assert scope["principal_of"]("ak_not_a_key") is None
    finally:
        scope["edge"].close()
