import APIKeysDomain
import Testing

@Suite("Key lifecycle (R8, R10–R13, R19, X5, X6)")
struct LifecycleTests {
    @Test("R8: status is Active, then Expired after the expiry; Revoked wins")
    func statuses() throws {
        let f = try Fixture()
        let a = try f.generate(f.dev, expiry: .inSeconds(60)).key
        let b = try f.generate(f.dev).key
        #expect(a.status(at: f.clock.nowMilliseconds) == .active)
        f.clock.advance(bySeconds: 60)
        #expect(try f.service.get(f.dev, keyID: a.id).status(at: f.clock.nowMilliseconds) == .expired)
        let revoked = try f.service.revoke(f.dev, keyID: b.id)
        #expect(revoked.status(at: f.clock.nowMilliseconds) == .revoked)
        f.clock.advance(bySeconds: 100_000)
        #expect(revoked.status(at: f.clock.nowMilliseconds) == .revoked)
    }

    @Test("R10: revoke refused on expired and on revoked keys")
    func revokeOnlyActive() throws {
        let f = try Fixture()
        let a = try f.generate(f.dev, expiry: .inSeconds(1)).key
        let b = try f.generate(f.dev).key
        f.clock.advance(bySeconds: 2)
        expectRefusal(.failedPrecondition, "not_active", rule: "R10") { _ = try f.service.revoke(f.admin, keyID: a.id) }
        _ = try f.service.revoke(f.admin, keyID: b.id, reason: "leaked")
        expectRefusal(.failedPrecondition, "not_active", rule: "R10") { _ = try f.service.revoke(f.admin, keyID: b.id) }
        try f.service.flushPending()  // X20: merged refusals' counts are stored by the flush
        let revoked = f.events(EventAction.keyRevoked)
        #expect(revoked.filter { $0.outcome == .success }.count == 1)
        // X20: one actor's refusals with one reason in one minute are one event, counted.
        #expect(revoked.filter { $0.outcome == .denied }.map(\.count) == [2])
        #expect(revoked.first { $0.outcome == .success }?.details["reason"] == "leaked")
    }

    @Test("R12: a revoked key never reactivates, not even by re-enabling the tenant")
    func irreversible() throws {
        let f = try Fixture()
        let generated = try f.generate(f.dev)
        _ = try f.service.revoke(f.dev, keyID: generated.key.id)
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(apiKeysEnabled: false))
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(apiKeysEnabled: true))
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxExpirySeconds: 31_536_000))
        expectRefusal(.unauthenticated, "revoked", rule: "R12") { _ = try f.service.verify(generated.secret, verifier: f.verifier) }
        #expect(try f.service.get(f.dev, keyID: generated.key.id).revokedAt != nil)
        // Reloading the index from the store keeps it revoked.
        try f.service.reloadIndex()
        expectRefusal(.unauthenticated, "revoked") { _ = try f.service.verify(generated.secret, verifier: f.verifier) }
    }

    @Test("R13: a tenant admin cannot delete another user's key, but can revoke it")
    func adminRevokesNotDeletes() throws {
        let f = try Fixture()
        let key = try f.generate(f.dev).key
        let error = expectRefusal(.permissionDenied, "not_owner", rule: "R13") { try f.service.delete(f.admin, keyID: key.id) }
        #expect(error?.message.contains("revoke") == true)
        #expect(try f.service.revoke(f.admin, keyID: key.id).revokedAt != nil)
        try f.service.delete(f.dev, keyID: key.id)
        expectRefusal(.notFound, "key_not_found") { _ = try f.service.get(f.dev, keyID: key.id) }
        #expect(f.events(EventAction.keyDeleted).count == 1)
    }

    @Test("R4, R19: the owner deletes their key only while holding the Developer role")
    func deleteNeedsDeveloper() throws {
        let f = try Fixture()
        let key = try f.generate(f.dev).key
        _ = try f.service.removeRole(f.admin, userID: "dev", role: .developer)
        expectRefusal(.permissionDenied, "not_developer", rule: "R4") { try f.service.delete(f.dev, keyID: key.id) }
        _ = try f.service.assignRole(f.admin, userID: "dev", role: .developer)
        try f.service.delete(f.dev, keyID: key.id)
    }

    @Test("R19: only the owner renames a key; the name follows X12")
    func rename() throws {
        let f = try Fixture()
        let key = try f.generate(f.dev, "old").key
        f.clock.advance(bySeconds: 5)
        let renamed = try f.service.rename(f.dev, keyID: key.id, name: "  new ")
        #expect(renamed.name == "new")
        #expect(renamed.updatedAt == key.updatedAt + 5_000)
        expectRefusal(.permissionDenied, "not_owner", rule: "R19") { _ = try f.service.rename(f.admin, keyID: key.id, name: "x") }
        expectRefusal(.invalidArgument, "name_empty") { _ = try f.service.rename(f.dev, keyID: key.id, name: "") }
        let event = try #require(f.events(EventAction.keyRenamed).first)
        #expect(event.details["old_name"] == "old" && event.details["name"] == "new")
    }

    @Test("X5: owners revoke their own keys; other non-admins may not")
    func ownerRevokes() throws {
        let f = try Fixture()
        let a = try f.generate(f.dev).key
        expectRefusal(.permissionDenied, "not_owner", rule: "X5") { _ = try f.service.revoke(f.dev2, keyID: a.id) }
        expectRefusal(.permissionDenied, "not_owner") { _ = try f.service.get(f.dev2, keyID: a.id) }
        #expect(try f.service.revoke(f.dev, keyID: a.id).revokedAt != nil)
        #expect(f.events(EventAction.permissionDenied).count == 2)
    }

    @Test("R11, X6: bulk revoke reports an outcome per key and revokes what it can")
    func bulkRevoke() throws {
        let f = try Fixture()
        let gadmin = try f.addSecondTenant()
        let mine = try f.generate(f.dev).key
        let mine2 = try f.generate(f.dev).key
        let other = try f.generate(f.dev2).key
        let expired = try f.generate(f.dev, expiry: .inSeconds(1)).key
        let foreign = try f.generate(gadmin).key
        f.clock.advance(bySeconds: 2)
        _ = try f.service.revoke(f.dev, keyID: mine2.id)
        let results = try f.service.revokeMany(f.dev, keyIDs: [mine.id, mine2.id, other.id, expired.id, foreign.id, "key_nope"])
        #expect(results.map(\.outcome) == [.revoked, .notActive, .permissionDenied, .notActive, .notFound, .notFound])
        #expect(try f.service.get(f.dev, keyID: mine.id).revokedAt != nil)
        #expect(try f.service.get(f.dev2, keyID: other.id).revokedAt == nil)
        // An admin revokes any key of the tenant in bulk.
        let adminResults = try f.service.revokeMany(f.admin, keyIDs: [other.id])
        #expect(adminResults.map(\.outcome) == [.revoked])
        expectRefusal(.invalidArgument, "invalid_key_count") { _ = try f.service.revokeMany(f.admin, keyIDs: []) }
    }
}
