import APIKeysClient
import APIKeysWire
import Foundation
import Testing

/// X1: nothing crosses tenants, and existence does not leak.
@Suite("Rules: tenancy")
struct TenancyRuleTests {
    @Test("X1: every method given another tenant's key, user or event answers NOT_FOUND, never PERMISSION_DENIED")
    func otherTenantsObjects() async throws {
        let a = try await RuleTenant.make(adminIsDeveloper: true)
        try await a.addUser("dana")
        let b = try await RuleTenant.make(adminIsDeveloper: true)
        try await b.addUser("bert")
        try await b.addUser("dana")  // the same user ID in both tenants
        let (bKey, bSecret) = try await b.generate("bert", name: "b's key")
        let (bDanaKey, _) = try await b.generate("dana", name: "b-dana's key")
        _ = try await a.generate("dana", name: "a's key")

        // As A's admin (admin and developer: no role check stands in the way) and as A's plain developer.
        for (who, client) in [("admin", a.adminClient), ("developer", a.as("dana"))] {
            for keyID in [bKey.id, bDanaKey.id] {
                await expectRefused(.notFound, rule: "X1", reason: "key_not_found", "\(who) Get") {
                    try await client.getKey(APIKeysV1.GetKeyRequest(keyID: keyID))
                }
                await expectRefused(.notFound, rule: "X1", reason: "key_not_found", "\(who) Rename") {
                    try await client.renameKey(APIKeysV1.RenameKeyRequest(keyID: keyID, name: "mine now"))
                }
                await expectRefused(.notFound, rule: "X1", reason: "key_not_found", "\(who) Revoke") {
                    try await client.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: keyID))
                }
                await expectRefused(.notFound, rule: "X1", reason: "key_not_found", "\(who) Delete") {
                    try await client.deleteKey(APIKeysV1.DeleteKeyRequest(keyID: keyID))
                }
                #expect(try await client.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: [keyID])).results.map(\.outcome) == [.notFound])
                // Indistinguishable from a key that never existed.
                let never = "key_" + String(keyID.dropFirst(4).reversed())
                let foreignError = await expectRefused(.notFound, rule: "X1", reason: "key_not_found") {
                    try await client.getKey(APIKeysV1.GetKeyRequest(keyID: keyID))
                }
                let neverError = await expectRefused(.notFound, rule: "X1", reason: "key_not_found") {
                    try await client.getKey(APIKeysV1.GetKeyRequest(keyID: never))
                }
                #expect(foreignError?.message.replacingOccurrences(of: keyID, with: never) == neverError?.message)
                #expect(try await client.listKeys(APIKeysV1.ListKeysRequest(search: keyID)).keys.isEmpty)
            }
        }
        let admin = a.adminClient
        for call in UserCall.allCases {
            await expectRefused(.notFound, rule: "X1", reason: "user_not_found", "\(call) on B's user") {
                try await call.run(admin, user: "bert")
            }
        }
        // Events: filtering by B's key finds nothing, A's listing holds nothing of B, and B's page token is refused.
        // (A's own refused attempts name the ID A gave, exactly as for a key that never existed.)
        let mentions = try await a.events().filter { $0.keyID == bKey.id || $0.keyID == bDanaKey.id }
        #expect(!mentions.isEmpty)
        #expect(mentions.allSatisfy { $0.outcome == "failure" && $0.details["reason"] == "key_not_found" && ["user:admin", "user:dana"].contains($0.actor) })
        #expect(try await a.events().allSatisfy { $0.tenantID == a.id })
        #expect(try await a.events(APIKeysV1.ListEventsRequest(actor: "user:bert")).isEmpty)
        #expect(!(try await b.events().contains { $0.actor.hasPrefix("user:admin") && $0.outcome != "success" }), "nothing of A's attempts lands in B")
        let bPage = try await b.adminClient.listEvents(APIKeysV1.ListEventsRequest(pageSize: 1))
        let tokenError = await expectRefused(.invalidArgument, rule: "X11", reason: "page_token_mismatch") {
            try await admin.listEvents(APIKeysV1.ListEventsRequest(pageSize: 1, pageToken: bPage.nextPageToken))
        }
        #expect(tokenError?.code != .permissionDenied)
        #expect(Set(try await admin.listUsers().users.map(\.userID)) == ["admin", "dana"])
        #expect(try await a.allKeys().allSatisfy { $0.tenantID == a.id })

        // A's key cannot be used to act in B.
        let (_, aSecret) = try await a.generate("dana", name: "a2")
        var crossing = Credential.apiKey(aSecret).metadata
        crossing["x-tenant-id"] = b.id
        await expectRefused(.unauthenticated, rule: "X13", reason: "tenant_mismatch") {
            try await admin.call("/apikeys.v1.Keys/List", APIKeysV1.ListKeysRequest(), metadata: crossing, as: APIKeysV1.ListKeysResponse.self)
        }
        // B's objects are untouched, and the refusals are A's events, not B's.
        #expect(try await b.key(bKey.id).status == .active)
        #expect(try await b.key(bKey.id).name == "b's key")
        #expect(try await b.adminClient.getUser(APIKeysV1.GetUserRequest(userID: "bert")).user?.roles == [.developer])
        #expect(try await b.verifier.verify(APIKeysV1.VerifyRequest(secret: bSecret)).principal?.tenantID == b.id)
        #expect(try await b.events(APIKeysV1.ListEventsRequest(keyID: bKey.id)).map(\.action) == ["key.generated"])
        await a.close()
        await b.close()
    }
}

/// The directory methods that take a user ID.
enum UserCall: CaseIterable {
    case assignRole, removeRole, setLicense, getUser

    func run(_ client: APIKeysClient, user: String) async throws {
        switch self {
        case .assignRole: _ = try await client.assignRole(APIKeysV1.AssignRoleRequest(userID: user, role: .tenantAdmin))
        case .removeRole: _ = try await client.removeRole(APIKeysV1.RemoveRoleRequest(userID: user, role: .developer))
        case .setLicense: _ = try await client.setLicense(APIKeysV1.SetLicenseRequest(userID: user, licensed: false))
        case .getUser: _ = try await client.getUser(APIKeysV1.GetUserRequest(userID: user))
        }
    }
}
