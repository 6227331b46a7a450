import APIKeysClient
import APIKeysDomain
import APIKeysStorage
import APIKeysWire
import Foundation
import GRDB
import Testing

/// Identifiers: X15 (issue 9, finding 1).
@Suite("Rules: identifiers")
struct IdentifierRuleTests {
    static let nfc = "ren\u{E9}"
    static let nfd = "rene\u{301}"

    @Test("X15: rene\u{301} (NFD) is refused as a new user, in x-user-id and in every user_id")
    func nonNFCRefused() async throws {
        let t = try await RuleTenant.make()
        await expectRefused(.invalidArgument, rule: "X15", reason: "identifier_not_nfc") {
            try await t.addUser(Self.nfd)
        }
        try await t.addUser(Self.nfc, roles: [.tenantAdmin, .developer])
        await expectRefused(.invalidArgument, rule: "X15", reason: "identifier_not_nfc") {
            try await t.as(Self.nfd).getSettings()
        }
        let admin = t.adminClient
        await expectRefused(.invalidArgument, rule: "X15", reason: "identifier_not_nfc") { try await admin.getUser(APIKeysV1.GetUserRequest(userID: Self.nfd)) }
        await expectRefused(.invalidArgument, rule: "X15", reason: "identifier_not_nfc") {
            try await admin.assignRole(APIKeysV1.AssignRoleRequest(userID: Self.nfd, role: .tenantAdmin))
        }
        await expectRefused(.invalidArgument, rule: "X15", reason: "identifier_not_nfc") {
            try await admin.setLicense(APIKeysV1.SetLicenseRequest(userID: Self.nfd, licensed: true))
        }
        await expectRefused(.invalidArgument, rule: "X15", reason: "identifier_not_nfc") {
            try await t.operator.removeUser(APIKeysV1.RemoveUserRequest(tenantID: t.id, userID: Self.nfd))
        }
        // The NFC spelling is a user like any other.
        _ = try await t.as(Self.nfc).getSettings()
        await t.close()
    }

    @Test("X15: ren\u{E9} (admin) and rene\u{301} (developer) stored by an old server cannot be one principal")
    func legacyEquivalentPair() async throws {
        let admin = SecretCodec.generate(.apiKey)
        let dev = SecretCodec.generate(.apiKey)
        let logs = CapturedLogs()
        let own = try await OwnServer.start(logger: logs.logger) { store in
            let now = nowMs()
            try store.write { tx in
                var tenant = Tenant(id: "legacy", name: "Legacy", createdAt: now, settings: .defaults(at: now))
                tenant.settings.apiKeysEnabled = true
                try tx.insertTenant(tenant)
                try tx.insertUser(User(tenantID: "legacy", userID: Self.nfc, displayName: "Admin", roles: [.tenantAdmin, .developer], licensed: true, createdAt: now))
                try tx.insertUser(User(tenantID: "legacy", userID: Self.nfd, displayName: "Dev", roles: [.developer], licensed: true, createdAt: now))
                for (generated, owner) in [(admin, Self.nfc), (dev, Self.nfd)] {
                    try tx.insertKey(APIKey(id: generated.id, tenantID: "legacy", ownerID: owner, name: "k", createdAt: now,
                                            updatedAt: now, expiresAt: now + 3_600_000, secretHash: generated.hash))
                }
            }
        }
        let t = try await RuleTenant.attach(tenant: "legacy", on: own.shared)

        // The start-up check named the pair.
        let reported = logs.records.filter { $0.message.contains("X15") }
        #expect(reported.count == 1)
        #expect(reported.first?.metadata["problem"]?.contains("rene\\u{301}") == true, "\(reported)")

        // The developer's key neither reads nor renames the admin's key, nor verifies.
        await expectRefused(.unauthenticated, rule: nil, reason: nil) { try await t.bearer(dev.secret).getKey(APIKeysV1.GetKeyRequest(keyID: admin.id)) }
        await expectRefused(.unauthenticated, rule: nil, reason: nil) {
            try await t.bearer(dev.secret).renameKey(APIKeysV1.RenameKeyRequest(keyID: admin.id, name: "mine"))
        }
        await expectRefused(.unauthenticated, rule: nil, reason: "revoked") { try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: dev.secret)) }

        // The admin is the admin (not refused as not_tenant_admin), and owns only their own key.
        _ = try await t.as(Self.nfc).getSettings()
        _ = try await t.as(Self.nfc).setLicense(APIKeysV1.SetLicenseRequest(userID: Self.nfc, licensed: true))
        let principal = try #require(try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: admin.secret)).principal)
        #expect(Array(principal.userID.utf8) == Array(Self.nfc.utf8))
        #expect(Set(principal.roles) == ["Developer", "TenantAdmin"])
        await expectRefused(.permissionDenied, rule: "R19", reason: "not_owner") {
            try await t.as(Self.nfc).renameKey(APIKeysV1.RenameKeyRequest(keyID: dev.id, name: "mine"))
        }

        // Removing the admin revokes the admin's key only, in memory and on disk alike.
        #expect(try await t.operator.removeUser(APIKeysV1.RemoveUserRequest(tenantID: "legacy", userID: Self.nfc)).keysRevoked == 1)
        let revoked = try await openDatabase(of: own.server.dataDirectory).read { db in
            try [String: Bool](uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT id, revoked_at IS NOT NULL AS r FROM api_key").map {
                ($0["id"] as String, $0["r"] as Bool)
            })
        }
        #expect(revoked == [admin.id: true, dev.id: false])
        await expectRefused(.unauthenticated, rule: nil, reason: "revoked") { try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: admin.secret)) }
        await t.close()
        await own.stop()
    }
}
