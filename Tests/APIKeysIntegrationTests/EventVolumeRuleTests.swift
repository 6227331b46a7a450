import APIKeysClient
import APIKeysDomain
import APIKeysServer
import APIKeysStorage
import APIKeysWire
import Foundation
import GRDB
import Testing

/// Event volume: X20 (issue 9, finding 4).
@Suite("Rules: event volume")
struct EventVolumeRuleTests {
    @Test("X20: 3,000 refused calls by one developer key write a handful of rows whose counts add up to 3,000", .enabled(if: TestStore.isSQLite, "counts rows in the SQLite file"))
    func floodIsMerged() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (_, secret) = try await t.generate("dana")
        let dana = t.bearer(secret)
        let directory = try #require(t.shared.dataDirectory)
        func rows() throws -> (count: Int, bytes: Int) {
            try openDatabase(of: directory).read { db in
                let row = try Row.fetchOne(db, sql: """
                    SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(CAST(details AS BLOB)) + LENGTH(actor) + LENGTH(action) + 40), 0) AS bytes
                    FROM event WHERE tenant_id = ?
                    """, arguments: [t.id])!
                return (row["n"], row["bytes"])
            }
        }
        let before = try rows()
        let calls = 3_000
        let started = ContinuousClock.now
        // One call at a time, as fast as they are answered: a flood for the store, without
        // starving the timing tests of other suites that share these two cores.
        for _ in 0..<calls { _ = try? await dana.getSettings() }
        let elapsed = ContinuousClock.now - started
        let denied = APIKeysV1.ListEventsRequest(action: "permission.denied", actor: "user:dana")
        let events = try await t.eventually(denied, timeout: .seconds(10)) { $0.reduce(0) { $0 + $1.count } >= UInt64(calls) }
        #expect(events.reduce(0) { $0 + $1.count } == UInt64(calls))
        // One row per minute the flood spanned.
        let minutes = Int(elapsed.components.seconds / 60) + 2
        #expect(events.count <= minutes, "\(events.count) rows for \(elapsed)")
        let after = try rows()
        print("X20 flood: \(calls) refused calls in \(elapsed): \(after.count - before.count) event rows, about \(after.bytes - before.bytes) bytes")
        // Besides the refusals: the key's excessive-use event (X9: 3,000 uses in a minute), once a minute.
        #expect(after.count - before.count <= 2 * minutes)
        await t.close()
    }

    @Test("X20: the running server deletes events past --event-retention in batches, and keeps newer ones")
    func retention() async throws {
        let day: Int64 = 86_400_000
        let now = nowMs()
        let own = try await OwnServer.start(seed: { store in
            try store.write { tx in
                try tx.insertTenant(Tenant(id: "old", name: "Old", createdAt: now - 30 * day, settings: .defaults(at: now - 30 * day)))
                for i in 0..<6_500 {
                    try tx.insertEvent(Event(time: now - 3 * day - Int64(i), tenantID: "old", actor: "operator", action: "settings.changed"))
                }
                try tx.insertEvent(Event(time: now - day / 2, tenantID: "old", actor: "operator", action: "tenant.created"))
            }
        }, configure: { $0.eventRetention = .seconds(86_400) })
        let database = try openDatabase(of: own.server.dataDirectory)
        let deadline = ContinuousClock.now + .seconds(20)
        var left: [String] = []
        repeat {
            try await Task.sleep(for: .milliseconds(100))
            left = try await database.read { db in try String.fetchAll(db, sql: "SELECT action FROM event WHERE tenant_id = 'old'") }
        } while left.count > 1 && ContinuousClock.now < deadline
        #expect(left == ["tenant.created"])
        await own.stop()
    }
}
