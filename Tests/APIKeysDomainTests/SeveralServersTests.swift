import APIKeysDomain
import Testing

/// X21 without sockets: two services on one shared in-memory store behave as two servers on
/// one database. Server B learns A's commits only through the change log (`catchUp`).
@Suite("Several servers on one store (X21)")
struct SeveralServersTests {
    let f: Fixture
    let b: APIKeyService

    init() throws {
        f = try Fixture()
        b = try APIKeyService(store: f.store, clock: f.clock, maxStaleness: .seconds(30))
    }

    @Test("X21: a key generated on A verifies on B after B catches up; a revoke on A is refused on B after it catches up")
    func keyChangesPropagate() throws {
        let generated = try f.generate(f.dev)
        expectRefusal(.unauthenticated, "unknown") { _ = try b.verify(generated.secret, verifier: f.verifier) }
        #expect(try b.catchUp() > 0)
        #expect(try b.verify(generated.secret, verifier: f.verifier).keyID == generated.key.id)
        _ = try f.service.revoke(f.dev, keyID: generated.key.id, reason: "leaked")
        #expect(try b.catchUp() == 1)
        expectRefusal(.unauthenticated, "revoked") { _ = try b.verify(generated.secret, verifier: f.verifier) }
        #expect(try b.catchUp() == 0, "nothing new: the position moved past the revoke")
    }

    @Test("X21: deleting a key, removing its owner, disabling the tenant and taking a role away on A reach B")
    func otherChangesPropagate() throws {
        let kept = try f.generate(f.dev)
        let deleted = try f.generate(f.dev2)
        try b.catchUp()
        try f.service.delete(f.dev2, keyID: deleted.key.id)
        try b.catchUp()
        expectRefusal(.unauthenticated, "unknown") { _ = try b.verify(deleted.secret, verifier: f.verifier) }

        _ = try f.service.updateSettings(f.admin, SettingsUpdate(apiKeysEnabled: false))
        try b.catchUp()
        expectRefusal(.unauthenticated, "disabled") { _ = try b.verify(kept.secret, verifier: f.verifier) }
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(apiKeysEnabled: true))
        try b.catchUp()
        #expect(try !b.verify(kept.secret, verifier: f.verifier).roles.isEmpty)

        _ = try f.service.removeRole(f.admin, userID: "dev", role: .developer)
        try b.catchUp()
        #expect(try b.verify(kept.secret, verifier: f.verifier).roles.isEmpty, "B answers the roles A set")

        _ = try f.service.removeUser(.operator, tenantID: f.tenant, userID: "dev")
        try b.catchUp()
        expectRefusal(.unauthenticated, "revoked") { _ = try b.verify(kept.secret, verifier: f.verifier) }
    }

    @Test("X21: a service credential revoked on A stops authenticating on B after B catches up")
    func credentialRevocationPropagates() throws {
        let created = try f.service.createServiceCredential(.operator, name: "gateway", scope: .verify, tenants: [])
        try b.catchUp()
        let caller = try b.resolveCaller(authorization: "Service \(created.secret)", tenantID: "", userID: "")
        #expect(caller.service?.name == "gateway")
        _ = try f.service.revokeCredential(.operator, id: created.credential.id)
        try b.catchUp()
        expectRefusal(.unauthenticated, "unknown_credential") {
            _ = try b.resolveCaller(authorization: "Service \(created.secret)", tenantID: "", userID: "")
        }
    }

    @Test("X21: a key or credential revoked on A cannot write on B before B catches up: the write re-reads it in its transaction")
    func revokedCredentialsCannotWriteAnywhere() throws {
        let generated = try f.generate(f.dev)
        let service = try f.service.createServiceCredential(.operator, name: "console", scope: .act, tenants: [])
        try b.catchUp()
        let byKey = try b.resolveCaller(authorization: "Bearer \(generated.secret)", tenantID: nil, userID: nil)
        let byService = try b.resolveCaller(authorization: "Service \(service.secret)", tenantID: f.tenant, userID: "dev")
        _ = try f.service.revoke(f.dev, keyID: generated.key.id, reason: "leaked")
        _ = try f.service.revokeCredential(.operator, id: service.credential.id)
        // B has not caught up: its index still authenticates both…
        _ = try b.resolveCaller(authorization: "Bearer \(generated.secret)", tenantID: nil, userID: nil)
        // …but no write goes through.
        expectRefusal(.unauthenticated, "revoked") { _ = try b.rename(byKey, keyID: generated.key.id, name: "mine now") }
        expectRefusal(.unauthenticated, "unknown_credential") { _ = try b.generate(byService, name: "minted", expiry: .tenantMaximum) }
        #expect(try f.store.keys(tenantID: f.tenant, ownerID: "dev").count == 1, "nothing was minted")
        #expect(try f.store.key(id: generated.key.id)?.name == generated.key.name)
        // Both refusals are in the audit trail.
        #expect(f.events().contains { $0.action == EventAction.keyGenerated && $0.outcome == .failure && $0.details["reason"] == "unknown_credential" })
    }

    @Test("X21: Verify answers UNAVAILABLE once the index is older than the staleness limit, and recovers on catch-up")
    func failsClosedWhenStale() throws {
        let generated = try f.generate(f.dev)
        try b.catchUp()
        f.clock.advance(bySeconds: 30)
        _ = try b.verify(generated.secret, verifier: f.verifier)
        f.clock.advance(bySeconds: 1)
        let refusal = expectRefusal(.unavailable, "store_unreachable", rule: "X21") {
            _ = try b.verify(generated.secret, verifier: f.verifier)
        }
        #expect(refusal?.message.contains("limit 30 s") == true)
        #expect(b.staleness == 31_000)
        try b.catchUp()
        #expect(b.staleness == 0)
        _ = try b.verify(generated.secret, verifier: f.verifier)
        // A's service was made without a limit: it answers from memory however old.
        f.clock.advance(bySeconds: 3600)
        _ = try f.service.verify(generated.secret, verifier: f.verifier)
    }

    @Test("X9, X21: excessive use adds up over servers, and raises one event per key and minute for the whole deployment")
    func excessiveUseAddsUp() throws {
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(excessiveUsePerMinute: 5))
        f.clock.set(milliseconds: 1_735_689_600_000)  // the start of a minute
        let generated = try f.generate(f.dev)
        try b.catchUp()
        for _ in 0..<3 { _ = try f.service.verify(generated.secret, verifier: f.verifier) }
        for _ in 0..<3 { _ = try b.verify(generated.secret, verifier: .service(name: "edge")) }
        try f.service.flushPending()
        #expect(f.events(EventAction.keyExcessiveUse).isEmpty, "3 of 6 so far")
        try b.flushPending()
        let raised = f.events(EventAction.keyExcessiveUse)
        #expect(raised.map(\.keyID) == [generated.key.id])
        #expect(raised.first?.actor == "service:edge", "raised by the flush whose counts crossed")
        #expect(raised.first?.details["window_start_ms"] == "1735689600000")
        for service in [f.service, b] {
            for _ in 0..<10 { _ = try service.verify(generated.secret, verifier: f.verifier) }
            try service.flushPending()
        }
        #expect(f.events(EventAction.keyExcessiveUse).count == 1, "once per window, however many servers cross it")
        #expect(try f.store.key(id: generated.key.id)?.useCount == 26, "usage counts add up")
        f.clock.advance(bySeconds: 60)
        try b.catchUp()
        for _ in 0..<6 { _ = try b.verify(generated.secret, verifier: f.verifier) }
        try b.flushPending()
        #expect(f.events(EventAction.keyExcessiveUse).count == 2, "a new minute, a new event")
    }

    @Test("X9: a flush that fails keeps its window counts, and the retry still raises the event once")
    func failedFlushKeepsWindowCounts() throws {
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(excessiveUsePerMinute: 2))
        f.clock.set(milliseconds: 1_735_689_600_000)
        let generated = try f.generate(f.dev)
        for _ in 0..<2 { _ = try f.service.verify(generated.secret, verifier: f.verifier) }
        try f.service.flushPending()
        f.clock.advance(bySeconds: 59)
        _ = try f.service.verify(generated.secret, verifier: f.verifier)
        f.clock.advance(bySeconds: 2)  // the next minute
        _ = try f.service.verify(generated.secret, verifier: f.verifier)
        try f.service.flushPending()
        let raised = f.events(EventAction.keyExcessiveUse)
        #expect(raised.map { $0.details["window_start_ms"] } == ["1735689600000"], "the third use of the first minute crossed 2")
    }
}
