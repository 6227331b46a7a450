"""The product scenario end to end (spec R2, R5, R17, R18, R7, R10, X7, X8, X10)."""

import pytest

from apikeys_client import Client, RpcError, StatusCode, bearer, operator, pb, service
from helpers import run


def test_quickstart(server):
    if not server.operator_credential:
        pytest.fail("apikeysd printed no 'operator credential:' line on first start", pytrace=False)

    async def main():
        conn = await Client.connect(*server.address, credential=operator(server.operator_credential))
        op = conn

        # Operator: tenant, its first admin, a service credential.
        tenant = await op.directory.create_tenant(tenant_id="acme", name="Acme Corp")
        assert tenant.tenant.id == "acme"
        alice_user = await op.directory.create_user(
            tenant_id="acme", user_id="alice", display_name="Alice", roles=[pb.ROLE_TENANT_ADMIN])
        assert list(alice_user.user.roles) == [pb.ROLE_TENANT_ADMIN]
        cred = await op.directory.create_service_credential(name="quickstart-portal")
        assert cred.name == "quickstart-portal" and cred.secret

        # The service acts for alice, a tenant admin.
        alice = conn.with_auth(service(cred.secret), tenant="acme", user="alice")
        current = await alice.tenant_settings.get()
        assert current.settings.api_keys_enabled is False  # R2: disabled by default
        updated = await alice.tenant_settings.update(api_keys_enabled=True)
        assert updated.settings.api_keys_enabled is True
        # R5: she gives herself the Developer role, and a license.
        u = await alice.directory.assign_role(user_id="alice", role=pb.ROLE_DEVELOPER)
        assert set(u.user.roles) == {pb.ROLE_TENANT_ADMIN, pb.ROLE_DEVELOPER}
        u = await alice.directory.set_license(user_id="alice", licensed=True)
        assert u.user.licensed

        # Bob: a licensed developer.
        bob_user = await op.directory.create_user(
            tenant_id="acme", user_id="bob", display_name="Bob", roles=[pb.ROLE_DEVELOPER], licensed=True)
        assert bob_user.user.licensed and list(bob_user.user.roles) == [pb.ROLE_DEVELOPER]
        bob = conn.with_auth(service(cred.secret), tenant="acme", user="bob")

        # R18: bob generates a key; the secret is returned once.
        gen = await bob.keys.generate(name="Bob's CI Deploy key", expires_in_seconds=3600)
        key = gen.key
        assert gen.secret and key.id
        assert (key.owner_id, key.tenant_id, key.name) == ("bob", "acme", "Bob's CI Deploy key")
        assert key.status == pb.KEY_STATUS_ACTIVE
        assert key.expires_at_ms > key.created_at_ms
        got = await bob.keys.get(key_id=key.id)
        assert got.key.id == key.id
        assert gen.secret.encode() not in got.SerializeToString()

        # X8: a service verifies the secret and gets the principal.
        verifier = conn.with_auth(service(cred.secret), tenant=None, user=None)
        verified = await verifier.verification.verify(secret=gen.secret)
        p = verified.principal
        assert (p.tenant_id, p.user_id, p.key_id) == ("acme", "bob", key.id)
        assert "Developer" in p.roles

        # X13: the key itself is a credential for bob.
        as_key = conn.with_auth(bearer(gen.secret), tenant=None, user=None)
        mine = await as_key.keys.list()
        assert [k.id for k in mine.keys] == [key.id]

        # R7: search by part of the name (case-insensitive), and by owner as an admin.
        found = await bob.keys.list(search="ci deploy")
        assert [k.id for k in found.keys] == [key.id]
        assert list((await bob.keys.list(search="no-such-key-name")).keys) == []
        found = await alice.keys.list(search="BOB")
        assert key.id in [k.id for k in found.keys]
        found = await alice.keys.list(search=key.id[-6:])
        assert key.id in [k.id for k in found.keys]

        # R10, X5: bob revokes his key; verification fails at once (X8).
        revoked = await bob.keys.revoke(key_id=key.id, reason="leaked in a CI log")
        assert revoked.key.status == pb.KEY_STATUS_REVOKED
        assert revoked.key.revoked_at_ms > 0
        with pytest.raises(RpcError) as info:
            await verifier.verification.verify(secret=gen.secret)
        assert info.value.code == StatusCode.UNAUTHENTICATED
        assert info.value.reason == "revoked"
        listed = await bob.keys.list(status=pb.KEY_STATUS_REVOKED)
        assert [k.id for k in listed.keys] == [key.id]

        # R9, X10: the admin sees the events, newest first, without secrets.
        events = await alice.events.list(key_id=key.id)
        actions = [e.action for e in events.events]
        assert "key.generated" in actions and "key.revoked" in actions, actions
        assert actions.index("key.revoked") < actions.index("key.generated")
        assert all(e.tenant_id == "acme" and e.key_id == key.id for e in events.events)
        assert gen.secret.encode() not in events.SerializeToString()

        await conn.close()

    run(main())
