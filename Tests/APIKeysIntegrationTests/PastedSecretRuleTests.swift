import APIKeysClient
import APIKeysWire
import Foundation
import Testing

/// Pasted secrets: X19 (issue 9, finding 8).
@Suite("Rules: pasted secrets")
struct PastedSecretRuleTests {
    @Test("X19: a real secret pasted as a key name, user ID, display name or x-tenant-id is refused and never echoed or stored")
    func refusedInNames() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (_, secret) = try await t.generate("dana")
        let attempts: [(String, () async throws -> Void)] = [
            ("key name", { _ = try await t.as("dana").generateKey(APIKeysV1.GenerateKeyRequest(name: "prod \(secret)")) }),
            ("user ID", { _ = try await t.operator.createUser(APIKeysV1.CreateUserRequest(tenantID: t.id, userID: secret, displayName: "x")) }),
            ("display name", { _ = try await t.operator.createUser(APIKeysV1.CreateUserRequest(tenantID: t.id, userID: "eve", displayName: secret)) }),
            ("GetUser user_id", { _ = try await t.adminClient.getUser(APIKeysV1.GetUserRequest(userID: secret)) }),
            ("x-tenant-id", {
                _ = try await t.operator.acting(as: .service(t.shared.serviceSecret, tenant: secret, user: "dana")).getSettings()
            }),
            ("x-user-id", {
                _ = try await t.operator.acting(as: .service(t.shared.serviceSecret, tenant: t.id, user: secret)).getSettings()
            }),
        ]
        for (what, attempt) in attempts {
            let error = await expectRefused(.invalidArgument, rule: "X19", reason: "secret_in_text", Comment(rawValue: what)) { try await attempt() }
            #expect(error.map { !leaks(secret, in: Array($0.message.utf8)) } == true, "\(what) echoed the secret")
        }
        for event in try await t.events() {
            #expect(!leaks(secret, in: Array("\(event.details) \(event.actor)".utf8)), "\(event)")
        }
        await t.close()
    }

    @Test("X19: a secret in a revoke reason (\"leaked: apk_…\") is redacted in the key and its event")
    func redactedInReason() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (key, secret) = try await t.generate("dana")
        _ = try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id, reason: "leaked: \(secret) in a gist"))
        let event = try #require(try await t.events(APIKeysV1.ListEventsRequest(keyID: key.id, action: "key.revoked")).first)
        #expect(event.details["reason"] == "leaked: [redacted apk_ secret] in a gist")
        #expect(!leaks(secret, in: Array("\(event.details)".utf8)))
        await t.close()
    }

    @Test("X19: a secret sent as a method name or a RevokeMany key ID does not come back in the answer")
    func notEchoed() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (key, secret) = try await t.generate("dana")
        let results = try await t.adminClient.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: [secret, key.id])).results
        #expect(results.map(\.keyID) == ["[not a key ID]", key.id])
        #expect(!leaks(secret, in: try APIKeysV1.RevokeKeysResponse(results: results).serializedBytes()))
        do {
            let _: APIKeysV1.EmptyMessage = try await t.operator.call("/apikeys.v1.Keys/\(secret)", APIKeysV1.EmptyMessage(), metadata: [:], timeout: .seconds(10))
            Issue.record("an unknown method succeeded")
        } catch let error as RPCError {
            #expect(error.code == .unimplemented)
            #expect(!leaks(secret, in: Array(error.message.utf8)), "\(error.message)")
        }
        await t.close()
    }
}
