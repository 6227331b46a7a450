import APIKeysDomain
import Testing

@Suite("Verification and usage (X4, X8, X9, X14)")
struct VerifyTests {
    @Test("X8: a good secret gives the principal with the owner's current roles")
    func principal() throws {
        let f = try Fixture()
        let generated = try f.generate(f.dev)
        let principal = try f.service.verify(generated.secret, verifier: f.verifier)
        #expect(principal == Principal(tenantID: "acme", userID: "dev", keyID: generated.key.id, roles: ["Developer"], expiresAt: generated.key.expiresAt))
        _ = try f.service.assignRole(f.admin, userID: "dev", role: .tenantAdmin)
        #expect(try f.service.verify(generated.secret, verifier: f.verifier).roles == ["Developer", "TenantAdmin"])
    }

    @Test("X8: reason unknown for garbage, a bad checksum, an unknown ID and a wrong secret")
    func unknown() throws {
        let f = try Fixture()
        let generated = try f.generate(f.dev)
        var typo = Array(generated.secret)
        typo[40] = typo[40] == "x" ? "y" : "x"
        let stranger = SecretCodec.generate(.apiKey).secret
        for secret in ["", "hello", String(typo), stranger] {
            expectRefusal(.unauthenticated, "unknown", rule: "X8") { _ = try f.service.verify(secret, verifier: f.verifier) }
        }
        // The right key ID with another secret: forge a well-formed one around the real ID.
        let forged = forgeSecret(keyID: generated.key.id)
        expectRefusal(.unauthenticated, "unknown") { _ = try f.service.verify(forged, verifier: f.verifier) }
        try f.service.flushPending()
        #expect(f.events(EventAction.keyVerifyFailed).map { $0.details["reason"] } == ["unknown"])
    }

    @Test("X8: reasons expired, revoked and disabled; a revocation or deletion is seen at the very next verify")
    func reasons() throws {
        let f = try Fixture()
        let a = try f.generate(f.dev, expiry: .inSeconds(10))
        let b = try f.generate(f.dev)
        let c = try f.generate(f.dev)
        _ = try f.service.verify(a.secret, verifier: f.verifier)
        _ = try f.service.verify(b.secret, verifier: f.verifier)
        _ = try f.service.revoke(f.admin, keyID: b.key.id)
        expectRefusal(.unauthenticated, "revoked") { _ = try f.service.verify(b.secret, verifier: f.verifier) }
        try f.service.delete(f.dev, keyID: c.key.id)
        expectRefusal(.unauthenticated, "unknown") { _ = try f.service.verify(c.secret, verifier: f.verifier) }
        f.clock.advance(bySeconds: 10)
        expectRefusal(.unauthenticated, "expired", rule: "R8") { _ = try f.service.verify(a.secret, verifier: f.verifier) }
        expectRefusal(.unauthenticated, "expired") { _ = try f.service.verify(a.secret, verifier: f.verifier) }
        try f.service.flushPending()
        // X10: key.expired once, when first observed.
        #expect(f.events(EventAction.keyExpired).map(\.keyID) == [a.key.id])
        #expect(try f.service.get(f.dev, keyID: a.key.id).expiryRecorded)
    }

    @Test("X4: disabling stops every key at once; re-enabling restores the ones still Active")
    func disableReenable() throws {
        let f = try Fixture()
        let a = try f.generate(f.dev)
        let b = try f.generate(f.dev)
        _ = try f.service.revoke(f.dev, keyID: b.key.id)
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(apiKeysEnabled: false))
        expectRefusal(.unauthenticated, "disabled", rule: "X4") { _ = try f.service.verify(a.secret, verifier: f.verifier) }
        expectRefusal(.unauthenticated, "revoked") { _ = try f.service.verify(b.secret, verifier: f.verifier) }
        #expect(try f.service.get(f.dev, keyID: a.key.id).status(at: f.clock.nowMilliseconds) == .active)
        expectRefusal(.failedPrecondition, "api_keys_disabled") { _ = try f.generate(f.dev) }
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(apiKeysEnabled: true))
        #expect(try f.service.verify(a.secret, verifier: f.verifier).keyID == a.key.id)
        expectRefusal(.unauthenticated, "revoked") { _ = try f.service.verify(b.secret, verifier: f.verifier) }
    }

    @Test("X9: last use and count are counted in memory and flushed in a batch")
    func usage() throws {
        let f = try Fixture()
        let generated = try f.generate(f.dev)
        for _ in 0..<3 { _ = try f.service.verify(generated.secret, verifier: f.verifier) }
        f.clock.advance(bySeconds: 1)
        _ = try f.service.verify(generated.secret, verifier: f.verifier)
        // Shown before the flush...
        let shown = try f.service.get(f.dev, keyID: generated.key.id)
        #expect(shown.useCount == 4)
        #expect(shown.lastUsedAt == f.clock.nowMilliseconds)
        #expect(try f.store.key(id: generated.key.id)?.useCount == 0)
        // ...and stored by it.
        try f.service.flushPending()
        let stored = try #require(try f.store.key(id: generated.key.id))
        #expect(stored.useCount == 4)
        #expect(stored.lastUsedAt == f.clock.nowMilliseconds)
        #expect(try f.service.get(f.dev, keyID: generated.key.id).useCount == 4)
        try f.service.flushPending()
        #expect(try f.store.key(id: generated.key.id)?.useCount == 4)
    }

    @Test("X9: excessive use raises one event per key per window")
    func excessiveUse() throws {
        let f = try Fixture()
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(excessiveUsePerMinute: 5))
        f.clock.set(milliseconds: 1_735_689_600_000)  // the start of a minute
        let a = try f.generate(f.dev)
        let b = try f.generate(f.dev)
        for _ in 0..<20 { _ = try f.service.verify(a.secret, verifier: f.verifier) }
        for _ in 0..<5 { _ = try f.service.verify(b.secret, verifier: f.verifier) }
        try f.service.flushPending()
        var events = f.events(EventAction.keyExcessiveUse)
        #expect(events.map(\.keyID) == [a.key.id])
        #expect(events.first?.details["threshold_per_minute"] == "5")
        f.clock.advance(bySeconds: 60)
        for _ in 0..<6 { _ = try f.service.verify(a.secret, verifier: f.verifier) }
        try f.service.flushPending()
        events = f.events(EventAction.keyExcessiveUse)
        #expect(events.count == 2)
        #expect(try f.store.key(id: a.key.id)?.useCount == 26)
    }

    @Test("X14: removing a user revokes every key they own, with an event naming the reason")
    func deprovisioning() throws {
        let f = try Fixture()
        let a = try f.generate(f.dev)
        let b = try f.generate(f.dev)
        let other = try f.generate(f.dev2)
        #expect(try f.service.removeUser(.operator, tenantID: "acme", userID: "dev") == 2)
        for generated in [a, b] {
            expectRefusal(.unauthenticated, "revoked") { _ = try f.service.verify(generated.secret, verifier: f.verifier) }
            #expect(try f.store.key(id: generated.key.id)?.revokedAt != nil)
        }
        _ = try f.service.verify(other.secret, verifier: f.verifier)
        let revoked = f.events(EventAction.keyRevoked)
        #expect(revoked.count == 2 && revoked.allSatisfy { $0.details["reason"] == "user_removed" && $0.details["rule"] == "X14" })
        #expect(f.events(EventAction.userRemoved).first?.details["keys_revoked"] == "2")
        expectRefusal(.notFound, "user_not_found") { _ = try f.service.removeUser(.operator, tenantID: "acme", userID: "dev") }
        // X13: the removed user can no longer act through a service.
        expectRefusal(.unauthenticated, "unknown_user") { _ = try f.service.list(f.dev, KeyListRequest()) }
    }

    @Test("X14: losing the Developer role or the license does not invalidate existing keys")
    func roleLossKeepsKeys() throws {
        let f = try Fixture()
        let a = try f.generate(f.dev)
        _ = try f.service.removeRole(f.admin, userID: "dev", role: .developer)
        _ = try f.service.setLicense(f.admin, userID: "dev", licensed: false)
        #expect(try f.service.verify(a.secret, verifier: f.verifier).roles == [])
        expectRefusal(.permissionDenied, "no_license") { _ = try f.generate(f.dev) }
    }

    @Test("The index loaded from the store at start-up verifies like the live one")
    func restart() throws {
        let f = try Fixture()
        let a = try f.generate(f.dev)
        let b = try f.generate(f.dev)
        _ = try f.service.revoke(f.dev, keyID: b.key.id)
        let restarted = try APIKeyService(store: f.store, clock: f.clock)
        #expect(try restarted.verify(a.secret, verifier: f.verifier).userID == "dev")
        expectRefusal(.unauthenticated, "revoked") { _ = try restarted.verify(b.secret, verifier: f.verifier) }
    }
}

/// A well-formed secret (valid checksum) embedding `keyID` but with other random characters.
func forgeSecret(keyID: String) -> String {
    var body = Array(("apk_" + keyID.dropFirst(4) + String(repeating: "Q", count: 43)).utf8)
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in body {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
    }
    crc ^= 0xFFFF_FFFF
    let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
    var chars = [UInt8](repeating: 0, count: 6)
    for i in stride(from: 5, through: 0, by: -1) {
        chars[i] = alphabet[Int(crc % 62)]
        crc /= 62
    }
    body += chars
    return String(decoding: body, as: UTF8.self)
}
