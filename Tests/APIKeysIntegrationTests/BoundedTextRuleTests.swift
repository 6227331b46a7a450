import APIKeysClient
import APIKeysWire
import Foundation
import GRDB
import Testing

/// Bounded text: X16 (issue 9, finding 3).
@Suite("Rules: bounded text")
struct BoundedTextRuleTests {
    /// Bytes the tenant's rows hold in the shared server's file: key names and reasons, event details.
    static func storedBytes(tenant: String, on shared: SharedServer) throws -> Int {
        let directory = try #require(shared.dataDirectory)
        return try openDatabase(of: directory).read { db in
            let keys = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(LENGTH(CAST(name AS BLOB)) + LENGTH(CAST(revoke_reason AS BLOB))), 0) FROM api_key WHERE tenant_id = ?", arguments: [tenant]) ?? 0
            let events = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(LENGTH(CAST(details AS BLOB)) + LENGTH(CAST(actor AS BLOB))), 0) FROM event WHERE tenant_id = ?", arguments: [tenant]) ?? 0
            return keys + events
        }
    }

    @Test("X16: a revoke reason of 512 bytes is kept whole; 513 bytes, or one character with 3,000 combining marks, is refused, never cut")
    func revokeReason() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let dana = t.as("dana")
        let exact = String(repeating: "\u{E9}", count: 256)
        let (kept, _) = try await t.generate("dana")
        let revoked = try await dana.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: kept.id, reason: exact))
        #expect(revoked.key?.status == .revoked)
        let event = try #require(try await t.events(APIKeysV1.ListEventsRequest(keyID: kept.id, action: "key.revoked")).first)
        #expect(event.details["reason"] == exact)

        let (other, _) = try await t.generate("dana")
        await expectRefused(.invalidArgument, rule: "X16", reason: "reason_too_long") {
            try await dana.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: other.id, reason: exact + "x"))
        }
        let bomb = "a" + String(repeating: "\u{301}", count: 3000)
        await expectRefused(.invalidArgument, rule: "X16", reason: "reason_too_long") {
            try await dana.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: other.id, reason: bomb))
        }
        #expect(try await t.key(other.id).status == .active)
        await t.close()
    }

    @Test("X16: RevokeMany over 60 keys with the largest reason stores at most kilobytes; a 1.6 MB reason is refused", .enabled(if: TestStore.isSQLite, "measures the SQLite file; the PostgreSQL pass runs the rest"))
    func revokeManyAmplification() async throws {
        let t = try await RuleTenant.make()
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 20))
        var ids: [String] = []
        for user in ["u1", "u2", "u3"] {
            try await t.addUser(user)
            for _ in 0..<20 { ids.append(try await t.generate(user).key.id) }
        }
        let before = try Self.storedBytes(tenant: t.id, on: t.shared)
        let huge = String(repeating: "a" + String(repeating: "\u{301}", count: 400), count: 2000)  // 1.6 MB, 2,000 characters
        await expectRefused(.invalidArgument, rule: "X16", reason: "reason_too_long") {
            try await t.adminClient.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: ids, reason: huge))
        }
        let refusedGrowth = try Self.storedBytes(tenant: t.id, on: t.shared) - before
        #expect(refusedGrowth < 4096, "a refused request stored \(refusedGrowth) bytes")
        let reason = String(repeating: "r", count: 512)
        let results = try await t.adminClient.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: ids + ["key_missing1", "key_missing2"], reason: reason)).results
        #expect(results.filter { $0.outcome == .revoked }.count == 60)
        let growth = try Self.storedBytes(tenant: t.id, on: t.shared) - before
        // 60 × (512 in the key + 512 in its event + the event's other details) and one merged refusal.
        #expect(growth < 60 * 1_400, "60 revocations stored \(growth) bytes")
        await t.close()
    }

    @Test("X16: a 3 MB user_id in GetUser, AssignRole, RemoveRole and SetLicense is refused and not stored", .enabled(if: TestStore.isSQLite, "measures the SQLite file; the PostgreSQL pass runs the rest"))
    func hugeUserID() async throws {
        let t = try await RuleTenant.make()
        let huge = String(repeating: "u", count: 3_000_000)
        let before = try Self.storedBytes(tenant: t.id, on: t.shared)
        let admin = t.adminClient
        await expectRefused(.invalidArgument, rule: "X16", reason: "invalid_user_id") { try await admin.getUser(APIKeysV1.GetUserRequest(userID: huge)) }
        await expectRefused(.invalidArgument, rule: "X16", reason: "invalid_user_id") {
            try await admin.assignRole(APIKeysV1.AssignRoleRequest(userID: huge, role: .developer))
        }
        await expectRefused(.invalidArgument, rule: "X16", reason: "invalid_user_id") {
            try await admin.removeRole(APIKeysV1.RemoveRoleRequest(userID: huge, role: .developer))
        }
        let error = await expectRefused(.invalidArgument, rule: "X16", reason: "invalid_user_id") {
            try await admin.setLicense(APIKeysV1.SetLicenseRequest(userID: huge, licensed: true))
        }
        #expect((error?.message.utf8.count ?? 0) < 256)
        let growth = try Self.storedBytes(tenant: t.id, on: t.shared) - before
        #expect(growth < 4 * 1024, "four refusals stored \(growth) bytes")
        await t.close()
    }
}
