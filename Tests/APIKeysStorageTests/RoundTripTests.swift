import APIKeysDomain
import APIKeysStorage
import Testing

@Suite("SQLite store: round trips and durability settings")
struct RoundTripTests {
    @Test("WAL and synchronous=FULL on the writer (durable acknowledged commits)")
    func pragmas() throws {
        let db = try TempDatabase()
        let store = try db.open()
        #expect(try store.journalMode() == "wal")
        #expect(try store.synchronousMode() == 2)
    }

    @Test("Tenants, settings, users, keys, events and credentials round-trip, also after reopening the file")
    func roundTrip() throws {
        let db = try TempDatabase()
        let tenant = Tenant(id: "acme", name: "Acme", createdAt: t0, settings: TenantSettings(
            apiKeysEnabled: true, maxExpirySeconds: 7_200, maxKeysPerUser: 9, excessiveUsePerMinute: 42, updatedAt: t0 + 1))
        let user = User(tenantID: "acme", userID: "ada", displayName: "Ada L.", roles: [.developer, .tenantAdmin], licensed: true, createdAt: t0)
        var key = APIKey(
            id: "key_abcdefghijklmnopqrst", tenantID: "acme", ownerID: "ada", name: "Zürich 🚀", createdAt: t0,
            updatedAt: t0, expiresAt: t0 + 60_000, secretHash: SecretHash(of: "s"))
        let event = Event(time: t0, tenantID: "acme", actor: "user:ada", action: EventAction.keyGenerated, keyID: key.id, details: ["name": "Zürich 🚀", "a\"b": "c\nd"])
        let credential = Credential(id: "svc_abcdefghijklmnopqrst", kind: .service, name: "portal", secretHash: SecretHash(of: "c"), createdAt: t0)
        do {
            let store = try db.open()
            let eventID = try store.write { tx -> UInt64 in
                try tx.insertTenant(tenant)
                try tx.insertUser(user)
                try tx.insertKey(key)
                try tx.insertCredential(credential)
                return try tx.insertEvent(event)
            }
            #expect(eventID == 1)
            #expect(try store.tenant(id: "acme") == tenant)
            #expect(try store.user(tenantID: "acme", userID: "ada") == user)
            #expect(try store.key(id: key.id) == key)
            #expect(try store.hasOperatorCredential() == false)
            // Updates: management fields only; usage by recordUsage.
            key.name = "renamed"
            key.updatedAt = t0 + 5
            key.revokedAt = t0 + 5
            key.revokeReason = "leaked"
            var withUsage = key
            withUsage.useCount = 999  // must be ignored by updateKey
            try store.write { tx in try tx.updateKey(withUsage) }
            try store.recordUsage(UsageBatch(
                usage: [UsageBatch.Usage(keyID: key.id, lastUsedAt: t0 + 9, count: 3)],
                events: [Event(time: t0 + 9, tenantID: "acme", actor: "service:gw", action: EventAction.keyExpired, keyID: key.id)],
                expiryRecorded: [key.id]))
            key.useCount = 3
            key.lastUsedAt = t0 + 9
            key.expiryRecorded = true
            var updatedUser = user
            updatedUser.roles = [.developer]
            updatedUser.licensed = false
            var settings = tenant.settings
            settings.apiKeysEnabled = false
            try store.write { tx in
                try tx.updateUser(updatedUser)
                try tx.updateSettings(tenantID: "acme", settings)
            }
            #expect(try store.key(id: key.id) == key)
            #expect(try store.user(tenantID: "acme", userID: "ada") == updatedUser)
            #expect(try store.tenant(id: "acme")?.settings == settings)
        }
        // Reopen: everything is there.
        let store = try db.open()
        #expect(try store.key(id: key.id) == key)
        #expect(try store.users(tenantID: "acme").map(\.userID) == ["ada"])
        #expect(try store.tenant(id: "acme")?.settings.apiKeysEnabled == false)
        let events = try store.listEvents(EventQuery(tenantID: "acme"))
        #expect(events.count == 2)
        #expect(events.last?.details == event.details)
        #expect(events.first?.action == EventAction.keyExpired)
        var records: [SnapshotRecord] = []
        try store.loadSnapshot { records.append($0) }
        #expect(records.count == 5)  // tenant, user, credential, key count, key
        #expect(records.contains { if case .credential(let c) = $0 { c == credential } else { false } })
        #expect(records.contains { if case .key(let k) = $0 { k.revoked && k.expiryRecorded && k.secretHash == key.secretHash } else { false } })
        // Deletes.
        try store.write { tx in
            try tx.deleteKey(id: key.id)
            try tx.deleteUser(tenantID: "acme", userID: "ada")
        }
        #expect(try store.key(id: key.id) == nil)
        #expect(try store.user(tenantID: "acme", userID: "ada") == nil)
    }

    @Test("A throwing transaction body rolls everything back")
    func rollback() throws {
        let db = try TempDatabase()
        let store = try db.open()
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try store.write { tx in
                try tx.insertTenant(Tenant(id: "acme", name: "A", createdAt: t0, settings: .defaults(at: t0)))
                throw Boom()
            }
        }
        #expect(try store.tenant(id: "acme") == nil)
    }

    @Test("X3: the active count ignores expired and revoked keys")
    func activeCount() throws {
        let db = try TempDatabase()
        let store = try db.open()
        try seed(store)
        try store.write { tx in
            try tx.insertKey(makeKey(1, owner: "bob", name: "a", created: t0, expires: t0 + 10))
            try tx.insertKey(makeKey(2, owner: "bob", name: "b", created: t0, expires: t0 + 100))
            var revoked = makeKey(3, owner: "bob", name: "c", created: t0, expires: t0 + 100)
            revoked.revokedAt = t0
            try tx.insertKey(revoked)
        }
        #expect(try store.countActiveKeys(tenantID: "acme", ownerID: "bob", asOf: t0 + 5) == 2)
        #expect(try store.countActiveKeys(tenantID: "acme", ownerID: "bob", asOf: t0 + 10) == 1)
        #expect(try store.keys(tenantID: "acme", ownerID: "bob").count == 3)
    }
}
