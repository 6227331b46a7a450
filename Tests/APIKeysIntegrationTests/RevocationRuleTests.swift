import APIKeysClient
import APIKeysWire
import Foundation
import Testing

/// Revoking and switching keys off: R9–R12, R14, X4, X6.
@Suite("Rules: revocation")
struct RevocationRuleTests {
    @Test("R9: excessive use shows up as an event with the key ID; the admin finds the key by that ID and revokes it")
    func excessiveUseToRevocation() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(excessiveUsePerMinute: 5))
        let (abused, secret) = try await t.generate("dana", name: "abused")
        _ = try await t.generate("dana", name: "quiet")
        for _ in 0..<12 { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)) }

        let events = try await t.eventually { !$0.with(action: "key.excessive_use").isEmpty }
        let alert = try #require(events.with(action: "key.excessive_use").first)
        #expect(alert.keyID == abused.id)
        #expect(alert.details["owner"] == "dana")

        // The admin copies the key ID from the event and searches the key table for it.
        let found = try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(search: alert.keyID)).keys
        #expect(found.map(\.id) == [abused.id])
        #expect(found.first?.useCount == 12)
        _ = try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: alert.keyID, reason: "excessive use"))
        await expectRefused(.unauthenticated, rule: "R12", reason: "revoked") {
            try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret))
        }
        await t.close()
    }

    @Test("R10: a single Active key is revoked; revoking an expired or a revoked key is FAILED_PRECONDITION")
    func onlyActiveRevoked() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (active, _) = try await t.generate("dana")
        let (expiring, _) = try await t.generate("dana", expiry: .expiresInSeconds(1))
        let revoked = try #require(try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: active.id, reason: "leak")).key)
        #expect(revoked.status == .revoked && revoked.revokedAtMs > 0)
        let again = await expectRefused(.failedPrecondition, rule: "R10", reason: "not_active") {
            try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: active.id))
        }
        #expect(again?.message.contains("Revoked") == true)

        try await Task.sleep(until: .now + .milliseconds(Int(max(0, expiring.expiresAtMs - nowMs())) + 50))
        let expired = await expectRefused(.failedPrecondition, rule: "R10", reason: "not_active") {
            try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: expiring.id))
        }
        #expect(expired?.message.contains("Expired") == true)
        #expect(try await t.key(expiring.id).status == .expired)
        await expectRefused(.notFound, rule: "X1", reason: "key_not_found") {
            try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: "key_aaaaaaaaaaaaaaaaaaaa"))
        }
        await t.close()
    }

    @Test("R11: several keys are revoked at once")
    func bulkRevoke() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("erik")
        var keys: [(key: APIKeysV1.ApiKey, secret: String)] = []
        for user in ["dana", "dana", "erik"] { keys.append(try await t.generate(user)) }
        let (kept, keptSecret) = try await t.generate("erik")

        let results = try await t.adminClient.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: keys.map(\.key.id), reason: "incident 42")).results
        #expect(results.map(\.keyID) == keys.map(\.key.id))
        #expect(results.allSatisfy { $0.outcome == .revoked })
        for (key, secret) in keys {
            #expect(try await t.key(key.id).status == .revoked)
            await expectRefused(.unauthenticated, rule: "R12", reason: "revoked") {
                try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret))
            }
        }
        #expect(try await t.key(kept.id).status == .active)
        _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: keptSecret))
        let events = try await t.events(APIKeysV1.ListEventsRequest(action: "key.revoked"))
        #expect(Set(events.map(\.keyID)) == Set(keys.map(\.key.id)))
        #expect(events.allSatisfy { $0.details["reason"] == "incident 42" })
        await expectRefused(.invalidArgument, rule: "R11", reason: "invalid_key_count") {
            try await t.adminClient.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: []))
        }
        await expectRefused(.invalidArgument, rule: "R11", reason: "invalid_key_count") {
            try await t.adminClient.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: Array(repeating: kept.id, count: 1001)))
        }
        #expect(try await t.key(kept.id).status == .active)
        await t.close()
    }

    @Test("R12: a revoked key never becomes usable again, whatever is called")
    func revocationIrreversible() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (key, secret) = try await t.generate("dana", name: "doomed")
        let revoked = try #require(try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id)).key)

        func stillRevoked(_ step: String) async throws {
            let now = try await t.key(key.id)
            #expect(now.status == .revoked, "after \(step)")
            #expect(now.revokedAtMs == revoked.revokedAtMs, "after \(step)")
            await expectRefused(.unauthenticated, rule: "R12", reason: "revoked", "after \(step)") {
                try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret))
            }
            await expectRefused(.unauthenticated, rule: nil, reason: "revoked", "Bearer after \(step)") {
                try await t.bearer(secret).listKeys()
            }
        }
        try await stillRevoked("revoke")
        _ = try? await t.as("dana").renameKey(APIKeysV1.RenameKeyRequest(keyID: key.id, name: "revived?"))
        try await stillRevoked("rename")
        await expectRefused(.failedPrecondition, rule: "R10", reason: "not_active") {
            try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id))
        }
        let bulk = try await t.adminClient.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: [key.id])).results
        #expect(bulk.map(\.outcome) == [.notActive])
        try await stillRevoked("revoke again")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false))
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: true))
        try await stillRevoked("disable and enable")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxExpirySeconds: 31_536_000, maxKeysPerUser: 1000, excessiveUsePerMinute: 10_000))
        try await stillRevoked("settings change")
        _ = try await t.adminClient.removeRole(APIKeysV1.RemoveRoleRequest(userID: "dana", role: .developer))
        _ = try await t.adminClient.assignRole(APIKeysV1.AssignRoleRequest(userID: "dana", role: .developer))
        _ = try await t.adminClient.setLicense(APIKeysV1.SetLicenseRequest(userID: "dana", licensed: false))
        _ = try await t.adminClient.setLicense(APIKeysV1.SetLicenseRequest(userID: "dana", licensed: true))
        try await stillRevoked("role and license changes")
        await t.close()
    }

    @Test("R14: Enable API keys switches every key of the tenant on and off; only a tenant admin changes it")
    func enableSwitchesAll() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("erik")
        let secrets = [try await t.generate("dana").secret, try await t.generate("erik").secret, try await t.generate("erik").secret]
        for secret in secrets { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)) }

        let off = try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false))
        #expect(off.apiKeysEnabled == false)
        for secret in secrets {
            await expectRefused(.unauthenticated, rule: "X4", reason: "disabled") {
                try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret))
            }
        }
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: true))
        for secret in secrets { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)) }

        // X17: an API key never changes settings, whoever owns it.
        await expectRefused(.permissionDenied, rule: "X17", reason: "api_key_not_allowed") {
            try await t.bearer(secrets[0]).updateSettings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false))
        }
        let changes = try await t.events(APIKeysV1.ListEventsRequest(action: "settings.changed"))
        #expect(changes.filter { $0.details["rule"] == "R14" }.count == 3)
        await t.close()
    }

    @Test("X4: while disabled no key authenticates and none is generated; statuses stay; re-enabling restores Active keys")
    func disabledTenant() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (active, activeSecret) = try await t.generate("dana", name: "active")
        let (revoked, revokedSecret) = try await t.generate("dana", name: "revoked")
        _ = try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: revoked.id))
        let other = try await RuleTenant.make()
        try await other.addUser("dana")
        let (_, otherSecret) = try await other.generate("dana")

        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false))
        await expectRefused(.unauthenticated, rule: "X4", reason: "disabled") {
            try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: activeSecret))
        }
        await expectRefused(.unauthenticated, rule: "X4", reason: "disabled") {
            try await t.bearer(activeSecret).listKeys()
        }
        await expectRefused(.unauthenticated, rule: "R12", reason: "revoked") {
            try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: revokedSecret))
        }
        await expectRefused(.failedPrecondition, rule: "R17", reason: "api_keys_disabled") { try await t.generate("dana") }
        // Statuses are unchanged; the admin still manages the table; other tenants are unaffected.
        #expect(try await t.key(active.id).status == .active)
        #expect(try await t.key(revoked.id).status == .revoked)
        _ = try await other.verifier.verify(APIKeysV1.VerifyRequest(secret: otherSecret))

        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: true))
        #expect(try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: activeSecret)).principal?.keyID == active.id)
        #expect(try await t.bearer(activeSecret).listKeys().keys.count == 2)
        await expectRefused(.unauthenticated, rule: "R12", reason: "revoked") {
            try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: revokedSecret))
        }
        await other.close()
        await t.close()
    }

    @Test("X6: bulk revoke reports revoked, not found, not active or permission denied per key, and revokes what it can")
    func bulkOutcomes() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("erik")
        let (mine, _) = try await t.generate("dana")
        let (mineToo, _) = try await t.generate("dana")
        let (alreadyRevoked, _) = try await t.generate("dana")
        _ = try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: alreadyRevoked.id))
        let (erikKey, _) = try await t.generate("erik")
        let other = try await RuleTenant.make()
        try await other.addUser("dana")
        let (foreign, _) = try await other.generate("dana")

        let ids = [mine.id, "key_doesnotexist000000", alreadyRevoked.id, erikKey.id, foreign.id, mineToo.id, "not even an id", mine.id]
        let results = try await t.as("dana").revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: ids, reason: "cleanup")).results
        // X19: what cannot be a key ID (perhaps a pasted secret) is not echoed back.
        #expect(results.map(\.keyID) == ids.map { $0 == "not even an id" ? "[not a key ID]" : $0 })
        #expect(results.map(\.outcome) == [.revoked, .notFound, .notActive, .permissionDenied, .notFound, .revoked, .notFound, .notActive])
        #expect(results.allSatisfy { !$0.message.isEmpty })
        #expect(try await t.key(mine.id).status == .revoked)
        #expect(try await t.key(mineToo.id).status == .revoked)
        #expect(try await t.key(erikKey.id).status == .active)
        #expect(try await other.key(foreign.id).status == .active)
        // Each refusal is an event of its own.
        let denied = try await t.events(APIKeysV1.ListEventsRequest(action: "permission.denied", actor: "user:dana"))
        #expect(denied.contains { $0.keyID == erikKey.id })
        await other.close()
        await t.close()
    }
}
