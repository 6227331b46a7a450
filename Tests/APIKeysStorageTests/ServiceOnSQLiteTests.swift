import APIKeysDomain
import APIKeysStorage
import Foundation
import Testing

@Suite("The domain service on the SQLite store")
struct ServiceOnSQLiteTests {
    func member(_ user: String) -> Caller {
        .member(Caller.Member(tenantID: "acme", userID: user, via: .service(name: "portal")))
    }

    @Test("Bootstrap, generate, verify, flush, revoke, restart: everything survives reopening")
    func endToEnd() throws {
        let db = try TempDatabase()
        let clock = ManualClock()
        let operatorSecret: String
        let keep: GeneratedKey
        let revoked: GeneratedKey
        do {
            let service = try APIKeyService(store: try db.open(), clock: clock)
            operatorSecret = try #require(try service.bootstrap())
            let op = try service.resolveCaller(authorization: "Operator \(operatorSecret)", tenantID: nil, userID: nil)
            _ = try service.createTenant(op, id: "acme", name: "Acme")
            _ = try service.createUser(op, tenantID: "acme", userID: "ada", displayName: "Ada", roles: [.tenantAdmin, .developer], licensed: true)
            let ada = member("ada")
            _ = try service.updateSettings(ada, SettingsUpdate(apiKeysEnabled: true, excessiveUsePerMinute: 2))
            keep = try service.generate(ada, name: "keep")
            revoked = try service.generate(ada, name: "to revoke")
            for _ in 0..<3 { _ = try service.verify(keep.secret, verifier: .service(name: "gw")) }
            _ = try service.revoke(ada, keyID: revoked.key.id, reason: "leaked")
            try service.flushPending()
        }
        let service = try APIKeyService(store: try db.open(), clock: clock)
        #expect(try service.bootstrap() == nil)
        #expect(try service.resolveCaller(authorization: "Operator \(operatorSecret)", tenantID: nil, userID: nil).via.hasPrefix("operator:opr_"))
        #expect(try service.verify(keep.secret, verifier: .service(name: "gw")).userID == "ada")
        do {
            _ = try service.verify(revoked.secret, verifier: .service(name: "gw"))
            Issue.record("a revoked key verified after a restart")
        } catch {
            #expect(error.reason == "revoked")
        }
        let ada = member("ada")
        let stored = try service.get(ada, keyID: keep.key.id)
        #expect(stored.useCount == 4)
        #expect(try service.getSettings(ada).excessiveUsePerMinute == 2)
        let excessive = try service.listEvents(ada, EventListRequest(action: EventAction.keyExcessiveUse)).events
        #expect(excessive.map(\.keyID) == [keep.key.id])
        let page = try service.list(ada, KeyListRequest(search: "REVOKE"))
        #expect(page.keys.map(\.id) == [revoked.key.id])
        #expect(page.keys.first?.revokeReason == "leaked")
    }

    @Test("X14 and R13 on SQLite: removal revokes at once; delete removes the row")
    func deprovisionAndDelete() throws {
        let db = try TempDatabase()
        let store = try db.open()
        let service = try APIKeyService(store: store, clock: ManualClock())
        _ = try service.createTenant(.operator, id: "acme", name: "Acme")
        _ = try service.createUser(.operator, tenantID: "acme", userID: "ada", displayName: "Ada", roles: [.tenantAdmin, .developer], licensed: true)
        _ = try service.createUser(.operator, tenantID: "acme", userID: "bob", displayName: "Bob", roles: [.developer], licensed: true)
        _ = try service.updateSettings(member("ada"), SettingsUpdate(apiKeysEnabled: true))
        let bobs = try service.generate(member("bob"), name: "bob's")
        let other = try service.generate(member("bob"), name: "other")
        try service.delete(member("bob"), keyID: other.key.id)
        #expect(try store.key(id: other.key.id) == nil)
        #expect(try service.removeUser(.operator, tenantID: "acme", userID: "bob") == 1)
        #expect(try store.key(id: bobs.key.id)?.revokedAt != nil)
        #expect(throws: DomainError.self) { _ = try service.verify(bobs.secret, verifier: .service(name: "gw")) }
    }

    @Test("The verification snapshot loads 20,000 keys quickly")
    func snapshotScale() throws {
        let db = try TempDatabase()
        let store = try db.open()
        try seed(store)
        try store.write { tx in
            for i in 0..<20_000 {
                try tx.insertKey(makeKey(i, owner: ["Alice", "bob", "carol"][i % 3], name: "k", created: t0, expires: t0 + 1_000))
            }
        }
        let start = Date()
        var count = 0
        try store.loadSnapshot { if case .key = $0 { count += 1 } }
        let elapsed = Date().timeIntervalSince(start)
        #expect(count == 20_000)
        #expect(elapsed < 5, "snapshot took \(elapsed) s")
        _ = try APIKeyService(store: store)
    }
}

extension Caller {
    /// A service with scope `act` in every tenant, as the tests use it.
    static func service(name: String) -> Caller { .service(ServiceIdentity(name: name, credentialID: "configured:\(name)")) }
}

extension Caller.Via {
    static func service(name: String) -> Caller.Via { .service(ServiceIdentity(name: name, credentialID: "configured:\(name)")) }
}
