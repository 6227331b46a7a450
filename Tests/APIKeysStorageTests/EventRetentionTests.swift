import APIKeysDomain
@testable import APIKeysStorage
import Foundation
import GRDB
import Testing

/// Schema v4: event counts (X20 merged refusals), retention deletes, and X15 byte-exact identifiers.
@Suite("SQLite store: event counts, retention and exact identifiers")
struct EventRetentionTests {
    @Test("Schema v4 migrates a v2 file: existing events count 1, and retention has its index")
    func migrationFromV2() throws {
        let db = try TempDatabase()
        do {
            let queue = try DatabaseQueue(path: db.path)
            try SQLiteSchema.migrator.migrate(queue, upTo: "v2: usage table, search index")
            try queue.write { db in
                try db.execute(sql: """
                    INSERT INTO event (time, tenant_id, actor, action, key_id, outcome, details)
                    VALUES (?, 'acme', 'user:dana', 'key.generated', NULL, 'success', '{"rule":"R18"}')
                    """, arguments: [t0])
            }
        }
        let store = try db.open()
        let events = try store.listEvents(EventQuery(tenantID: "acme", limit: 10))
        #expect(events.map(\.count) == [1])
        #expect(events.first?.details == ["rule": "R18"])
        let plan = try store.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT id FROM event INDEXED BY event_time WHERE time < ? ORDER BY time LIMIT 1000", arguments: [t0])
                .map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("event_time") }, "\(plan)")
    }

    @Test("X20: counts are stored and added to; retention deletes the oldest, a batch per transaction")
    func countsAndRetention() throws {
        let db = try TempDatabase()
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

    @Test("X15: canonically equivalent user IDs are two rows, looked up byte for byte; the index reports them")
    func exactIdentifiers() throws {
        let db = try TempDatabase()
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
        let service = try APIKeyService(store: store, clock: ManualClock())
        #expect(service.identifierProblems.map(\.userIDs.count) == [2])
        #expect(service.identifierProblems.first?.userIDs.first?.utf8.elementsEqual(nfc.utf8) == true)
    }
}
