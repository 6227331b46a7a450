import APIKeysDomain
@testable import APIKeysStorage
import GRDB
import Testing
import Foundation
import Synchronization

/// The trigram search index and the usage table (schema v2): they must never change an answer,
/// only how fast it comes.
@Suite("SQLite store: trigram search index and usage table")
struct SearchIndexTests {
    /// Rows whose names share common words ("deploy" in a fifth of them) and a few rare ones,
    /// so one store answers searches through the index and by walking a sort index.
    func populate(_ stores: [any KeyStore], count: Int) throws {
        let words = ["deploy", "billing", "Mobile", "reports", "ci"]
        for store in stores {
            try seed(store, tenants: ["acme", "globex"])
            try store.write { tx in
                for i in 0..<count {
                    var key = makeKey(i, tenant: i % 7 == 6 ? "globex" : "acme", owner: ["Alice", "bob", "carol"][i % 3],
                                      name: "\(words[i % words.count]) key \(i)", created: t0 + Int64(i % 97), expires: t0 + Int64(i % 13) * 1_000)
                    if i % 11 == 0 { key.revokedAt = t0 + 1 }
                    try tx.insertKey(key)
                }
            }
        }
    }

    @Test("R7: common searches (walking a sort index) and rare ones (trigram index) page exactly as the reference store")
    func bothPlansMatchReference() async throws {
        // Seconds of synchronous work: on a thread of its own, not one of the few cooperative
        // threads that other suites' clients and servers need meanwhile.
        try await onOwnThread { try self.compareBothPlans() }
    }

    func compareBothPlans() throws {
        let db = try TempDatabase()
        let sqlite = try db.open()
        let memory = InMemoryKeyStore()
        let count = SQLiteListing.searchIndexCandidateLimit * 5 + 1_000  // "deploy" is in more rows than the limit
        try populate([sqlite, memory], count: count)
        let someID = makeKey(4_321, owner: "", name: "", created: 0, expires: 0).id
        func usesIndex(_ search: String) throws -> Bool {
            try sqlite.pool.read { db in
                try SQLiteKeyStore.searchIndexQuery(for: KeyQuery(tenantID: "acme", search: search, asOf: t0, limit: 20), db) != nil
            }
        }
        #expect(try !usesIndex("deploy") && !usesIndex("key") && !usesIndex("ci"))
        #expect(try usesIndex("key 42") && usesIndex("key 4242") && usesIndex("alice") == false)
        let searches = ["deploy", "key", "mobile", "key 42", "key 4242", "y 7", "alice", someID, String(someID.suffix(5)), "zzzz", "ci"]
        for search in searches {
            for (sort, status) in [(KeySortField.name, nil), (.expires, nil), (.status, KeyStatus.revoked)] {
                do {
                    var query = KeyQuery(tenantID: "acme", search: search, status: status, sort: sort, descending: sort == .expires, asOf: t0 + 5_000, limit: 40)
                    var expected: [String] = []
                    var got: [String] = []
                    // Three pages, through the cursor, as the client pages.
                    for _ in 0..<3 {
                        let reference = try memory.listKeys(query)
                        let page = try sqlite.listKeys(query)
                        expected += reference.map(\.id)
                        got += page.map(\.id)
                        guard let last = reference.last, reference.count == query.limit else { break }
                        query.after = KeyCursor(value: query.sortValue(of: last), id: last.id)
                    }
                    #expect(got == expected, "search \(search) sort \(sort) status \(String(describing: status))")
                }
            }
        }
        #expect(try sqlite.listKeys(KeyQuery(tenantID: "acme", search: "key 4242", asOf: t0, limit: 100)).map(\.name) == ["Mobile key 4242"])
    }

    @Test("R7: the trigram query covers every trigram once and quotes what FTS5 would parse")
    func trigramQueries() {
        #expect(SQLiteListing.trigramQuery("ab") == nil)
        #expect(SQLiteListing.trigramQuery("abc") == #""abc""#)
        #expect(SQLiteListing.trigramQuery("abab") == #""aba" "bab""#)
        #expect(SQLiteListing.trigramQuery(#"a"b"#) == #""a""b""#)
        #expect(SQLiteListing.trigramQuery("zür") == #""zür""#)
        let long = SQLiteListing.trigramQuery(String(repeating: "abcdefghijklmnopqrstuvwxyz", count: 4))!
        #expect(long.split(separator: " ").count == 16)
    }

    @Test("R7, R19: a renamed key is found by its new name only; a deleted key by nothing")
    func renameAndDeleteUpdateTheIndex() throws {
        let db = try TempDatabase()
        let store = try db.open()
        try seed(store)
        var key = makeKey(1, owner: "Alice", name: "Payments Gateway", created: t0, expires: t0 + 60_000)
        try store.write { tx in try tx.insertKey(key) }
        func found(_ search: String) throws -> [String] {
            try store.listKeys(KeyQuery(tenantID: "acme", search: search, asOf: t0, limit: 10)).map(\.id)
        }
        #expect(try found("payments") == [key.id])
        key.name = "Ledger sync"
        try store.write { tx in try tx.updateKey(key) }
        #expect(try found("payments") == [])
        #expect(try found("ledger") == [key.id])
        key.revokedAt = t0 + 1  // an update that keeps the name
        try store.write { tx in try tx.updateKey(key) }
        #expect(try found("ledger") == [key.id])
        try store.write { tx in try tx.deleteKey(id: key.id) }
        #expect(try found("ledger") == [])
        #expect(try found("alice") == [])
    }

    @Test("X9: usage adds up in its own table, survives reopening, and goes with a deleted key")
    func usageTable() throws {
        let db = try TempDatabase()
        let key = makeKey(1, owner: "Alice", name: "k", created: t0, expires: t0 + 60_000)
        let other = makeKey(2, owner: "Alice", name: "k2", created: t0, expires: t0 + 60_000)
        do {
            let store = try db.open()
            try seed(store)
            try store.write { tx in
                try tx.insertKey(key)
                try tx.insertKey(other)
            }
            try store.recordUsage(UsageBatch(usage: [UsageBatch.Usage(keyID: key.id, lastUsedAt: t0 + 10, count: 4)]))
            // An older flush arriving later must not move last-used back.
            try store.recordUsage(UsageBatch(usage: [UsageBatch.Usage(keyID: key.id, lastUsedAt: t0 + 5, count: 2),
                                                     UsageBatch.Usage(keyID: other.id, lastUsedAt: t0 + 7, count: 1)]))
        }
        let store = try db.open()
        let stored = try #require(try store.key(id: key.id))
        #expect(stored.useCount == 6)
        #expect(stored.lastUsedAt == t0 + 10)
        #expect(try store.listKeys(KeyQuery(tenantID: "acme", search: "k2", asOf: t0, limit: 10)).map(\.useCount) == [1])
        try store.write { tx in try tx.deleteKey(id: other.id) }
        // Usage counted before the delete and flushed after it leaves nothing behind.
        try store.recordUsage(UsageBatch(usage: [UsageBatch.Usage(keyID: other.id, lastUsedAt: t0 + 8, count: 1)]))
        let rows = try store.pool.read { db in try String.fetchAll(db, sql: "SELECT key_id FROM key_usage") }
        #expect(rows == [key.id])
    }

    @Test("Schema v2 migrates a v1 file: keys, usage and search survive")
    func migrationFromV1() throws {
        let db = try TempDatabase()
        let key = makeKey(7, owner: "Alice", name: "Legacy Export", created: t0, expires: t0 + 60_000)
        do {
            let queue = try DatabaseQueue(path: db.path)
            try SQLiteSchema.migrator.migrate(queue, upTo: "v1")
            try queue.write { db in
                try db.execute(sql: "INSERT INTO tenant VALUES ('acme', 'Acme', ?, 1, 3600, 5, 100, ?)", arguments: [t0, t0])
                try db.execute(sql: """
                    INSERT INTO api_key (id, tenant_id, owner_id, name, name_lower, owner_lower, created_at, updated_at,
                        expires_at, secret_hash, last_used_at, use_count)
                    VALUES (?, 'acme', 'Alice', ?, ?, 'alice', ?, ?, ?, ?, ?, 12)
                    """, arguments: [key.id, key.name, key.name.lowercased(), t0, t0, key.expiresAt, key.secretHash.data, t0 + 3])
            }
        }
        let store = try db.open()
        let migrated = try #require(try store.key(id: key.id))
        #expect(migrated.useCount == 12)
        #expect(migrated.lastUsedAt == t0 + 3)
        #expect(try store.listKeys(KeyQuery(tenantID: "acme", search: "legacy exp", asOf: t0, limit: 10)).map(\.id) == [key.id])
    }
}

@Suite("SQLite store: idle priority for usage writes")
struct IdlePriorityTests {
    @Test("X9: usage is written in the idle scheduling class, and the thread's class is restored after")
    func idleWindow() throws {
        // On a thread of its own, so no test's thread is ever left in another class.
        let observed = Mutex<(before: Int32, inside: Int32, after: Int32)>((-1, -1, -1))
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let before = IdlePriority.currentPolicy()
            let inside = IdlePriority.during { IdlePriority.currentPolicy() }
            observed.withLock { $0 = (before, inside, IdlePriority.currentPolicy()) }
            done.signal()
        }
        thread.start()
        done.wait()
        let (before, inside, after) = observed.withLock { $0 }
        #expect(before == 0)  // SCHED_OTHER
        #expect(inside == IdlePriority.schedIdle)
        #expect(after == before)
    }
}

/// Runs blocking work on a new thread and waits for it without holding a cooperative thread.
func onOwnThread(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
