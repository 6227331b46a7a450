import APIKeysDomain
import APIKeysPostgres
import Testing

@Suite("PostgreSQL store: round trips (as the SQLite store)")
struct RoundTripTests {
    @Test("Tenants, settings, users, keys, events and credentials round-trip, also through a second store")
    func roundTrip() throws {
        let db = TestStore()
        let tenant = Tenant(id: "acme", name: "Acme", createdAt: t0, settings: TenantSettings(
            apiKeysEnabled: true, maxExpirySeconds: 7_200, maxKeysPerUser: 9, excessiveUsePerMinute: 42, updatedAt: t0 + 1))
        let user = User(tenantID: "acme", userID: "ada", displayName: "Ada L.", roles: [.developer, .tenantAdmin], licensed: true, createdAt: t0)
        var key = APIKey(
            id: "key_abcdefghijklmnopqrst", tenantID: "acme", ownerID: "ada", name: "Zürich 🚀", createdAt: t0,
            updatedAt: t0, expiresAt: t0 + 60_000, secretHash: SecretHash(of: "s"))
        let event = Event(time: t0, tenantID: "acme", actor: "user:ada", action: EventAction.keyGenerated, keyID: key.id, details: ["name": "Zürich 🚀", "a\"b": "c\nd"])
        let credential = Credential(id: "svc_abcdefghijklmnopqrst", kind: .service, name: "portal", secretHash: SecretHash(of: "c"), createdAt: t0)
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
        key.name = "renamed"
        key.updatedAt = t0 + 5
        key.revokedAt = t0 + 5
        key.revokeReason = "leaked"
        var withUsage = key
        withUsage.useCount = 999  // must be ignored by updateKey
        try store.write { tx in try tx.updateKey(withUsage) }
        try store.recordUsage(UsageBatch(
            usage: [UsageBatch.Usage(keyID: key.id, lastUsedAt: t0 + 9, count: 3), UsageBatch.Usage(keyID: "key_gone", lastUsedAt: t0, count: 1)],
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
        // Another store (server) on the same schema sees everything.
        let other = try db.open()
        #expect(try other.key(id: key.id) == key)
        #expect(try other.key(id: "key_gone") == nil)
        #expect(try other.user(tenantID: "acme", userID: "ada") == updatedUser)
        #expect(try other.users(tenantID: "acme").map(\.userID) == ["ada"])
        #expect(try other.tenant(id: "acme")?.settings == settings)
        let events = try other.listEvents(EventQuery(tenantID: "acme"))
        #expect(events.count == 2)
        #expect(events.last?.details == event.details)
        #expect(events.first?.action == EventAction.keyExpired)
        #expect(events.first?.keyID == key.id)
        var records: [SnapshotRecord] = []
        try other.loadSnapshot { records.append($0) }
        #expect(records.count == 6)  // position, key count, tenant, user, key, credential
        if case .changePosition(let p) = records.first { #expect(p > 0) } else { Issue.record("position first") }
        #expect(records.contains { if case .credential(let c) = $0 { c == credential } else { false } })
        #expect(records.contains { if case .key(let k) = $0 { k.revoked && k.expiryRecorded && k.secretHash == key.secretHash } else { false } })
        try store.write { tx in
            try tx.deleteKey(id: key.id)
            try tx.deleteUser(tenantID: "acme", userID: "ada")
        }
        #expect(try other.key(id: key.id) == nil)
        #expect(try other.user(tenantID: "acme", userID: "ada") == nil)
    }

    @Test("A throwing transaction body rolls everything back, and the connection serves on")
    func rollback() throws {
        let db = TestStore()
        let store = try db.open(configuration: { var c = PostgresKeyStore.Configuration(); c.maxConnections = 1; return c }())
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try store.write { tx in
                try tx.insertTenant(Tenant(id: "acme", name: "A", createdAt: t0, settings: .defaults(at: t0)))
                throw Boom()
            }
        }
        #expect(try store.tenant(id: "acme") == nil)
        // A failing statement (duplicate) inside a body also rolls back.
        try seed(store)
        #expect(throws: PostgresStoreError.self) { try seed(store) }
        #expect(try store.users(tenantID: "acme").count == 3)
    }

    @Test("X3: the active count ignores expired and revoked keys")
    func activeCount() throws {
        let db = TestStore()
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

    @Test("X18: scope, tenants and revocation round-trip through the store and the snapshot")
    func credentials() throws {
        let db = TestStore()
        let store = try db.open()
        let credential = Credential(
            id: "svc_zyxwvutsrqponmlkjihg", kind: .service, name: "billing", secretHash: SecretHash(of: "s"), createdAt: t0,
            scope: .act, tenants: ["acme", "globex,with comma"])
        let verifier = Credential(
            id: "svc_bcdefghijklmnopqrstu", kind: .service, name: "edge", secretHash: SecretHash(of: "v"), createdAt: t0 + 1, scope: .verify)
        let operatorCredential = Credential(id: "opr_abcdefghijklmnopqrst", kind: .operator, name: "operator", secretHash: SecretHash(of: "o"), createdAt: t0 + 2)
        try store.write { tx in
            try tx.insertCredential(credential)
            try tx.insertCredential(verifier)
            try tx.insertCredential(operatorCredential)
            try tx.revokeCredential(id: verifier.id, at: t0 + 9)
        }
        #expect(try store.hasOperatorCredential())
        var revokedVerifier = verifier
        revokedVerifier.revokedAt = t0 + 9
        #expect(try store.credentials() == [credential, revokedVerifier, operatorCredential])
        var loaded: [Credential] = []
        try store.loadSnapshot { if case .credential(let c) = $0 { loaded.append(c) } }
        #expect(Set(loaded) == [credential, revokedVerifier, operatorCredential])
        try store.write { tx in try tx.revokeCredential(id: operatorCredential.id, at: t0 + 10) }
        #expect(try !store.hasOperatorCredential())
    }

    @Test("X20: counts are stored and added to; retention deletes the oldest, a batch at a time")
    func countsAndRetention() throws {
        let db = TestStore()
        let store = try db.open()
        try seed(store)
        let ids = try store.write { tx in
            try (0..<25).map { i in
                try tx.insertEvent(Event(time: t0 + Int64(i), tenantID: "acme", actor: "user:bob", action: "permission.denied", count: 2))
            }
        }
        try store.write { tx in try tx.addToEventCount(id: ids[24], 40) }
        #expect(try store.listEvents(EventQuery(tenantID: "acme", limit: 1)).first?.count == 42)
        #expect(try store.deleteEvents(before: t0 + 20, limit: 8) == 8)
        #expect(try store.deleteEvents(before: t0 + 20, limit: 8) == 8)
        #expect(try store.deleteEvents(before: t0 + 20, limit: 8) == 4)
        #expect(try store.deleteEvents(before: t0 + 20, limit: 8) == 0)
        let left = try store.listEvents(EventQuery(tenantID: "acme", limit: 100))
        #expect(left.map(\.time) == (20..<25).reversed().map { t0 + Int64($0) })
    }

    @Test("X15: canonically equivalent user IDs are two rows, looked up byte for byte")
    func exactIdentifiers() throws {
        let db = TestStore()
        let store = try db.open()
        try seed(store)
        let nfc = "ren\u{E9}", nfd = "rene\u{301}"
        try store.write { tx in
            try tx.insertUser(User(tenantID: "acme", userID: nfc, displayName: "A", roles: [.tenantAdmin], licensed: true, createdAt: t0))
            try tx.insertUser(User(tenantID: "acme", userID: nfd, displayName: "D", roles: [.developer], licensed: true, createdAt: t0))
            try tx.insertKey(makeKey(1, owner: nfd, name: "dev's", created: t0, expires: t0 + 60_000))
        }
        #expect(try store.user(tenantID: "acme", userID: nfc)?.roles == [.tenantAdmin])
        #expect(try store.user(tenantID: "acme", userID: nfd)?.roles == [.developer])
        #expect(try store.keys(tenantID: "acme", ownerID: nfc).isEmpty)
        #expect(try store.keys(tenantID: "acme", ownerID: nfd).count == 1)
        // Ordered by bytes: "Alice" < "bob" < "carol" < "rene\u{301}" < "ren\u{E9}".
        #expect(try store.users(tenantID: "acme").map { Array($0.userID.utf8) } == ["Alice", "bob", "carol", nfd, nfc].map { Array($0.utf8) })
        let service = try APIKeyService(store: store, clock: ManualClock())
        #expect(service.identifierProblems.map(\.userIDs.count) == [2])
    }

    @Test("A bad URL says what is allowed; no message or description shows the password")
    func urls() throws {
        for bad in ["mysql://u@h/db", "postgres://h/db", "postgres://u@h", "postgres://u@h/db?schema=a-b", "postgres://u@h/db?x=1"] {
            let error = #expect(throws: PostgresStoreError.self) { try PostgresKeyStore(url: bad, logger: TestCluster.logger) }
            #expect(error?.description.contains("postgres://user[:password]@host[:port]/database") == true, "\(bad)")
        }
        // Nothing listens on port 1: unavailable, naming the address and not the password.
        let error = #expect(throws: StoreUnavailable.self) {
            try PostgresKeyStore(url: "postgresql://apikeys:hunter2secret@127.0.0.1:1/db", logger: TestCluster.logger)
        }
        #expect(error?.message.contains("127.0.0.1:1") == true)
        #expect(error?.message.contains("hunter2secret") == false)
    }
}
