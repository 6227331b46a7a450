import APIKeysDomain
import APIKeysPostgres
import Synchronization
import Testing

@Suite("PostgreSQL store: the change log (X21)")
struct ChangeFeedTests {
    @Test("Every kind of mutation appears in commit order with the record's current state; a snapshot's position starts the feed")
    func everyKind() throws {
        let db = TestStore()
        let a = try db.open(), b = try db.open()
        var start: UInt64?
        try b.loadSnapshot { if case .changePosition(let p) = $0 { start = p } }
        #expect(start == 0)
        let key = makeKey(1, owner: "bob", name: "k", created: t0, expires: t0 + 60_000)
        let credential = Credential(id: "svc_abcdefghijklmnopqrst", kind: .service, name: "portal", secretHash: SecretHash(of: "c"), createdAt: t0)
        try seed(a)  // tenant acme, users Alice, bob, carol: one transaction
        var settings = TenantSettings.defaults(at: t0)
        settings.apiKeysEnabled = true
        try a.write { tx in try tx.updateSettings(tenantID: "acme", settings) }
        try a.write { tx in
            try tx.insertKey(key)
            var renamed = key
            renamed.name = "renamed"
            try tx.updateKey(renamed)  // the same record twice in one transaction: one entry
        }
        try a.write { tx in try tx.updateUser(User(tenantID: "acme", userID: "bob", displayName: "Bob", roles: [], licensed: false, createdAt: t0)) }
        try a.write { tx in try tx.deleteUser(tenantID: "acme", userID: "carol") }
        try a.write { tx in try tx.insertCredential(credential) }
        try a.write { tx in try tx.revokeCredential(id: credential.id, at: t0 + 1) }
        try a.write { tx in try tx.deleteKey(id: key.id) }
        try a.write { tx in _ = try tx.insertEvent(Event(time: t0, tenantID: "acme", actor: "x", action: "y")) }  // not logged
        try a.recordUsage(UsageBatch(usage: [UsageBatch.Usage(keyID: key.id, lastUsedAt: t0, count: 1)]))  // not logged

        let batch = try b.changes(after: 0, limit: 100)
        #expect(!batch.hasMore)
        let described = batch.records.map(Self.describe)
        #expect(described == [
            "tenant acme enabled=true", "user acme/Alice gone=false", "user acme/bob gone=false", "user acme/carol gone=true",
            "tenant acme enabled=true",
            "key \(key.id) gone=true",
            "user acme/bob gone=false", "user acme/carol gone=true",
            "credential \(credential.id) revoked=true", "credential \(credential.id) revoked=true",
            "key \(key.id) gone=true",
        ])
        // Paging by limit: positions increase, the last page says there is no more.
        var position: UInt64 = 0
        var pages: [[String]] = []
        while true {
            let page = try b.changes(after: position, limit: 4)
            #expect(page.position >= position)
            pages.append(page.records.map(Self.describe))
            position = page.position
            if !page.hasMore { break }
        }
        #expect(pages.flatMap { $0 } == described)
        #expect(position == batch.position)
        #expect(try b.changes(after: position, limit: 10).records.isEmpty)
        #expect(try b.changes(after: position, limit: 10).position == position)
        // A snapshot taken now starts after everything so far.
        var now: UInt64?
        try b.loadSnapshot { if case .changePosition(let p) = $0 { now = p } }
        #expect(now == position)
        // The current state: bob's roles as stored.
        if case .user(_, _, let user?) = batch.records[2] { #expect(user.displayName == "Bob" && !user.licensed) }
    }

    @Test("loadSnapshot streams 25,000 keys through its cursor in pages, after the position and the count")
    func largeSnapshot() throws {
        let db = TestStore()
        let store = try db.open()
        try seed(store)
        try TestCluster.admin("""
            INSERT INTO "\(db.schema)".api_key (id, tenant_id, owner_id, name, name_lower, owner_lower, created_at,
                updated_at, expires_at, secret_hash)
            SELECT 'key_' || md5(i::text), 'acme', 'bob', 'k', 'k', 'bob', i, i, i, decode(repeat('ab', 32), 'hex')
            FROM generate_series(1, 25000) AS i
            """)
        var order: [String] = []
        var keys = 0
        try store.loadSnapshot { record in
            switch record {
            case .changePosition: order.append("position")
            case .keyCount(let n): order.append("count \(n)")
            case .tenant: order.append("tenant")
            case .user: if order.last != "users" { order.append("users") }
            case .key(let key):
                keys += 1
                if order.last != "keys" { order.append("keys") }
                #expect(key.ownerID == "bob")
            case .credential: order.append("credential")
            }
        }
        #expect(keys == 25_000)
        #expect(order == ["position", "count 25000", "tenant", "users", "keys"])
    }

    static func describe(_ record: ChangedRecord) -> String {
        switch record {
        case .tenant(let id, let settings): "tenant \(id) enabled=\(settings?.apiKeysEnabled ?? false)"
        case .user(let tenant, let user, let value): "user \(tenant)/\(user) gone=\(value == nil)"
        case .key(let id, let value): "key \(id) gone=\(value == nil)"
        case .credential(let id, let value): "credential \(id) revoked=\(value?.revokedAt != nil)"
        }
    }

    @Test("Under concurrent writers on two stores, a reader never misses an entry: positions are in commit order")
    func commitOrder() throws {
        let db = TestStore()
        let stores = [try db.open(), try db.open()]
        try seed(stores[0])
        let writers = 6, writesEach = 40
        let done = Atomic<Int>(0)
        let failedWrites = Atomic<Int>(0)
        // What the reader received while following the feed live, page after page.
        let live = Mutex<(records: Int, positions: [UInt64])>((0, []))
        let readerFailure = Mutex<String?>(nil)
        onThreads(writers + 1) { i in
            if i == writers {
                // The reader: follows the feed from 0 in small pages while the writers run.
                var position: UInt64 = 0
                var caughtUpAfterDone = false
                while !caughtUpAfterDone {
                    let finished = done.load(ordering: .acquiring) == writers
                    do {
                        let page = try stores[1].changes(after: position, limit: 5)
                        live.withLock {
                            $0.records += page.records.count
                            if !page.records.isEmpty { $0.positions.append(page.position) }
                        }
                        position = page.position
                        if finished && !page.hasMore { caughtUpAfterDone = true }
                    } catch {
                        readerFailure.withLock { $0 = "\(error)" }
                        return
                    }
                }
                return
            }
            let store = stores[i % 2]
            for j in 0..<writesEach {
                let n = i * 1_000 + j
                do {
                    try store.write { tx in
                        try tx.insertKey(makeKey(n, owner: ["Alice", "bob", "carol"][j % 3], name: "k", created: t0, expires: t0 + 1))
                        if j % 4 == 0 { try tx.updateSettings(tenantID: "acme", TenantSettings(updatedAt: Int64(n))) }
                    }
                } catch {
                    failedWrites.add(1, ordering: .relaxed)
                }
            }
            done.add(1, ordering: .releasing)
        }
        #expect(readerFailure.withLock { $0 } == nil)
        #expect(failedWrites.load(ordering: .relaxed) == 0)
        // Everything, read at the end in one go. Had an entry committed after the reader
        // passed its position, the live count would be short of it.
        let all = try stores[0].changes(after: 0, limit: 100_000)
        #expect(all.records.count == writers * writesEach + writers * writesEach / 4 + 4)
        #expect(all.records.count { if case .key = $0 { true } else { false } } == writers * writesEach)
        let (liveRecords, positions) = live.withLock { $0 }
        #expect(liveRecords == all.records.count)
        #expect(positions == positions.sorted())
        #expect(positions.last == all.position)
    }
}
