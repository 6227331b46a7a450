"""`apikeys call METHOD [JSON]` (issue 12, item 5) over the real binaries: the generic caller
against a real apikeysd, its JSON checked with the official protobuf library's json_format
(an implementation independent of the tool's own), its methods against the Python
descriptors, and its failures by message and exit status.
"""

from __future__ import annotations

import json

from google.protobuf import json_format

from apikeys_client import pb
from test_cli import EXIT, Tenant, acme, cli, free_port, ok  # noqa: F401  (acme: a fixture)


def call(t_args: list[str], *args: str, input: str | None = None):
    return cli(*t_args, "call", *args, input=input)


def methods_in_python_descriptors() -> set[tuple[str, str, str]]:
    found = set()
    for module in pb.MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found.add((f"/{service.full_name}/{method.name}", method.input_type.full_name,
                           method.output_type.full_name))
    return found


def test_issue12_call_list_names_every_method_of_the_descriptors():
    listed = ok(cli("--json", "call", "--list")).json()
    from_tool = {(m["path"], m["request"], m["response"]) for s in listed["services"] for m in s["methods"]}
    expected = methods_in_python_descriptors()
    assert len(expected) >= 24
    assert from_tool == expected
    text = ok(cli("call", "--list")).out
    for path, request, response in expected:
        service, method = path.split("/")[1:]
        short = f"{service.removeprefix('apikeys.v1.')}/{method}"
        line = next((line for line in text.splitlines() if line.split()[:1] == [short]), None)
        assert line is not None, f"{short} missing from:\n{text}"
        assert line.split()[1:] == [request.removeprefix("apikeys.v1."), response.removeprefix("apikeys.v1.")], line


def test_issue12_call_generate_then_verify(acme: Tenant):
    # Bob acts through the console's service credential, as a developer.
    generated = ok(call(acme.as_user("bob"), "Keys/Generate", '{"name": "from call", "expiresInSeconds": "3600"}'))
    answer = generated.json()
    # What the tool prints is protobuf's canonical JSON: the official parser takes it as is.
    parsed = json_format.Parse(generated.out, pb.GenerateKeyResponse())
    assert parsed.key.name == "from call" and parsed.key.status == pb.KEY_STATUS_ACTIVE
    assert answer["secret"] == parsed.secret and len(answer["secret"]) > 40
    assert answer["key"]["status"] == "KEY_STATUS_ACTIVE"
    # int64 as strings; use_count 0 left out as proto3 JSON does.
    assert isinstance(answer["key"]["createdAtMs"], str) and "useCount" not in answer["key"]

    # The request from stdin (-), which keeps the secret out of the process list.
    request = json_format.MessageToJson(pb.VerifyRequest(secret=answer["secret"]))
    verified = ok(call(acme.verifier, "/apikeys.v1.Verification/Verify", "-", input=request))
    principal = json_format.Parse(verified.out, pb.VerifyResponse()).principal
    assert principal.key_id == answer["key"]["id"]
    assert principal.user_id == "bob" and principal.tenant_id == acme.tenant
    assert "Developer" in verified.json()["principal"]["roles"]

    # --emit-defaults shows the zero fields too; snake_case names are accepted in requests.
    got = ok(call(acme.as_user("bob"), "--emit-defaults", "Keys.Get", json.dumps({"key_id": answer["key"]["id"]}))).json()
    assert got["key"]["useCount"] in ("0", "1") and got["key"]["revokedAtMs"] == "0"

    # A revoked key no longer verifies: the server's status and its exit code.
    ok(call(acme.as_user("bob"), "Keys/Revoke", json.dumps({"keyId": answer["key"]["id"], "reason": "test"})))
    refused = call(acme.verifier, "Verification/Verify", json.dumps({"secret": answer["secret"]}))
    assert refused.rc == EXIT["unauthenticated"], str(refused)
    assert refused.err.startswith("error: UNAUTHENTICATED: "), str(refused)


def test_issue12_call_bytes_maps_and_oneofs(acme: Tenant):
    echoed = ok(call(acme.as_user("bob"), "Conformance/Echo", '{"payload": "AAEC/w==", "echoMetadata": true, "responseSize": 3}')).json()
    assert echoed["payload"] == "YWFh"  # the server answers with responseSize bytes of "a"
    assert echoed["metadata"]["x-user-id"] == "bob" and echoed["metadata"]["x-tenant-id"] == acme.tenant
    # A one-member oneof stands for proto3 `optional`: false must be sent, not dropped.
    ok(call(acme.as_user("alice"), "Settings/Update", '{"apiKeysEnabled": false}'))
    settings = ok(call(acme.as_user("alice"), "--emit-defaults", "Settings/Get")).json()
    assert settings["settings"]["apiKeysEnabled"] is False
    ok(call(acme.as_user("alice"), "Settings/Update", '{"api_keys_enabled": true}'))
    assert ok(call(acme.as_user("alice"), "Settings/Get")).json()["settings"]["apiKeysEnabled"] is True
    listed = ok(call(acme.as_user("alice"), "Keys/List", '{"status": "KEY_STATUS_ACTIVE", "sortBy": 1, "pageSize": 5}')).json()
    assert all(key["status"] == "KEY_STATUS_ACTIVE" for key in listed.get("keys", []))


def test_issue12_call_unknown_method_names_the_nearest():
    # No server runs at this address: the method is checked before connecting.
    nowhere = ["--server", f"127.0.0.1:{free_port()}"]
    result = call(nowhere, "Keys/Generat", "{}")
    assert result.rc == EXIT["usage"], str(result)
    assert result.err.strip() == "error: no method Keys/Generat (did you mean Keys/Generate?)", str(result)
    as_json = cli(*nowhere, "--json", "call", "Nothing/Here")
    assert as_json.rc == EXIT["usage"] and as_json.err == "", str(as_json)
    assert as_json.json()["error"]["code"] == "USAGE"
    assert "apikeys call --list" in as_json.json()["error"]["message"]


def test_issue12_call_bad_json_says_where():
    nowhere = ["--server", f"127.0.0.1:{free_port()}"]
    result = call(nowhere, "Keys/Generate", '{"name": }')
    assert result.rc == EXIT["usage"], str(result)
    assert "invalid JSON at line 1, column 10" in result.err, str(result)

    unknown = call(nowhere, "Keys/Generate", '{"nmae": "x"}')
    assert unknown.rc == EXIT["usage"], str(unknown)
    assert 'apikeys.v1.GenerateKeyRequest has no field "nmae" (did you mean "name"?)' in unknown.err, str(unknown)

    wrong = call(nowhere, "Keys/RevokeMany", '{"keyIds": ["a", 1]}')
    assert wrong.rc == EXIT["usage"], str(wrong)
    assert "the request, at keyIds[1]: expected a string (string), found a number" in wrong.err, str(wrong)

    nul = call(nowhere, "Keys/Generate", '{"name": "a\\u0000b"}')
    assert nul.rc == EXIT["usage"] and "NUL" in nul.err, str(nul)


def test_issue12_call_wrong_role_is_permission_denied(acme: Tenant):
    # Bob is a developer, not a tenant admin: the event log is not his to read.
    result = call(acme.as_user("bob"), "Events/List")
    assert result.rc == EXIT["permission"], str(result)
    assert result.err.startswith("error: PERMISSION_DENIED: "), str(result)
    # Bob gave one credential: no hint to pick another.
    assert "--as" not in result.err, str(result)
    as_json = cli(*acme.as_user("bob"), "--json", "call", "Events/List")
    assert as_json.rc == EXIT["permission"] and as_json.json()["error"]["code"] == "PERMISSION_DENIED", str(as_json)
    # The verify-only service credential may not generate keys.
    denied = call(acme.verifier, "Keys/Generate", '{"name": "x"}')
    assert denied.rc in (EXIT["permission"], EXIT["unauthenticated"]), str(denied)


def test_issue12_call_as_picks_the_credential(acme: Tenant):
    both = [*acme.as_user("alice"), "--operator-credential-file", acme.operator_file]
    # Given both, a user's credential is sent first; --as operator sends the operator's.
    alice = ok(call(both, "Directory/GetUser", json.dumps({"userId": "alice"}))).json()
    assert "ROLE_TENANT_ADMIN" in alice["user"]["roles"], alice
    created = call(both, "--as", "operator", "Directory/CreateUser",
                   json.dumps({"tenantId": acme.tenant, "userId": "carol", "roles": ["ROLE_DEVELOPER", 2], "licensed": True}))
    assert created.rc == 0, str(created)
    user = json_format.Parse(created.out, pb.CreateUserResponse()).user
    assert user.user_id == "carol" and list(user.roles) == [pb.ROLE_DEVELOPER, pb.ROLE_TENANT_ADMIN] and user.licensed
    denied = call(both, "Directory/CreateUser", json.dumps({"tenantId": acme.tenant, "userId": "dave"}))
    assert denied.rc == EXIT["permission"], str(denied)
    assert "(sent a user's credential; --as operator sends another)" in denied.err, str(denied)


def test_issue12_call_describe_shows_fields():
    text = ok(cli("call", "--describe", "Keys/Generate")).out
    assert "/apikeys.v1.Keys/Generate" in text
    assert "message apikeys.v1.GenerateKeyRequest {" in text
    assert "int64 expiresAtMs = 2;" in text and "expires_at_ms" in text and "oneof with expiresInSeconds" in text
    assert "message apikeys.v1.ApiKey {" in text  # reached through GenerateKeyResponse.key
    assert "enum apikeys.v1.KeyStatus {" in text and "KEY_STATUS_REVOKED = 3;" in text
    described = ok(cli("--json", "call", "--describe", "ListKeysRequest")).json()
    fields = {f["jsonName"]: f for f in described["messages"][0]["fields"]}
    assert fields["sortBy"]["name"] == "sort_by" and fields["sortBy"]["type"] == "apikeys.v1.KeySortField"
    sort_values = next(e for e in described["enums"] if e["name"] == "apikeys.v1.KeySortField")["values"]
    assert {v["name"]: v["number"] for v in sort_values} == {
        v.name: v.number for v in pb.keys_pb2.DESCRIPTOR.enum_types_by_name["KeySortField"].values}
    events = ok(cli("--json", "call", "--describe", "Event")).json()["messages"][0]["fields"]
    assert next(f for f in events if f["name"] == "details")["type"] == "map<string, string>"
    missing = cli("call", "--describe", "Keys/Nope")
    assert missing.rc == EXIT["usage"] and "no method Keys/Nope" in missing.err, str(missing)


def test_issue12_call_oversized_request_is_refused_before_sending(acme: Tenant):
    # 6 MiB of payload (8 MiB of base64): over the 4 MiB frame limit the server announces.
    big = json.dumps({"payload": "A" * (8 * 1024 * 1024)})
    result = call(acme.as_user("bob"), "Conformance/Echo", "-", input=big)
    assert result.rc == EXIT["usage"], str(result)
    assert "over the server's frame limit" in result.err, str(result)
    # The server is still there for the next call.
    ok(call(acme.as_user("bob"), "Health/Check"))
