import APIKeysDomain
import APIKeysPostgres
import Foundation
import PostgresNIO
import Synchronization
import Testing

/// Two stores on one schema act as two servers, each with its own APIKeyService.
@Suite("PostgreSQL store: rules hold across servers")
struct MultiServerTests {
    @Test("R16/X3: concurrent generates for one user through two servers never exceed the maximum")
    func keyLimitRace() throws {
        let db = TestStore()
        let clock = ManualClock()
        let a = try makeService(try db.open(), clock: clock, createTenant: true)
        let b = try makeService(try db.open(), clock: clock, createTenant: false)
        _ = try a.updateSettings(member("admin"), SettingsUpdate(maxKeysPerUser: 3))
        let outcomes = Mutex<[String]>([])
        onThreads(8) { i in
            for _ in 0..<4 {
                do {
                    _ = try (i % 2 == 0 ? a : b).generate(member("dev"), name: "race \(i)")
                    outcomes.withLock { $0.append("ok") }
                } catch {
                    outcomes.withLock { $0.append(error.reason) }
                }
            }
        }
        let all = outcomes.withLock { $0 }
        #expect(all.count { $0 == "ok" } == 3, "\(all)")
        #expect(all.allSatisfy { $0 == "ok" || $0 == "key_limit" }, "\(all)")
        let store = try db.open()
        #expect(try store.countActiveKeys(tenantID: "acme", ownerID: "dev", asOf: clock.nowMilliseconds) == 3)
    }

    @Test("The last tenant admin: two admins demoting each other at once through two servers, exactly one succeeds")
    func lastAdminRace() throws {
        let db = TestStore()
        let clock = ManualClock()
        let a = try makeService(try db.open(), clock: clock, createTenant: true)
        let b = try makeService(try db.open(), clock: clock, createTenant: false)
        _ = try a.createUser(.operator, tenantID: "acme", userID: "admin2", displayName: "Bea", roles: [.tenantAdmin], licensed: true)
        for round in 0..<5 {
            let successes = Atomic<Int>(0)
            let start = DispatchSemaphore(value: 0)
            let refusals = Mutex<[String]>([])
            onThreads(3) { i in
                if i == 2 {
                    start.signal()
                    start.signal()
                    return
                }
                start.wait()
                do {
                    if i == 0 {
                        _ = try a.removeRole(member("admin"), userID: "admin2", role: .tenantAdmin)
                    } else {
                        _ = try b.removeRole(member("admin2"), userID: "admin", role: .tenantAdmin)
                    }
                    successes.add(1, ordering: .relaxed)
                } catch {
                    refusals.withLock { $0.append(error.reason) }
                }
            }
            #expect(successes.load(ordering: .relaxed) == 1, "round \(round): \(refusals.withLock { $0 })")
            let admins = try db.open().users(tenantID: "acme").filter(\.isTenantAdmin).map(\.userID)
            #expect(admins.count == 1, "round \(round)")
            // Restore both admins for the next round.
            let remaining = admins.first ?? "admin"
            _ = try a.assignRole(member(remaining), userID: remaining == "admin" ? "admin2" : "admin", role: .tenantAdmin)
        }
    }

    @Test("X9: two servers' counts in one window add up; exactly one excessive-use event when the sum crosses")
    func windows() throws {
        let db = TestStore()
        let stores = [try db.open(), try db.open()]
        try seed(stores[0])
        let key = makeKey(1, owner: "bob", name: "k", created: t0, expires: t0 + 600_000)
        try stores[0].write { tx in try tx.insertKey(key) }
        let window = t0 / 60_000
        @Sendable func usage(_ count: UInt64, window: Int64 = window, threshold: UInt64 = 10) -> UsageBatch {
            return UsageBatch(
                usage: [UsageBatch.Usage(keyID: key.id, lastUsedAt: window * 60_000, count: count)],
                windows: [UsageBatch.WindowUsage(keyID: key.id, window: window, count: count, threshold: threshold,
                                                 tenantID: "acme", ownerID: "bob", actor: "service:gw", time: window * 60_000)])
        }
        func excessive() throws -> Int {
            try stores[1].listEvents(EventQuery(tenantID: "acme", action: EventAction.keyExcessiveUse, limit: 100)).count
        }
        try stores[0].recordUsage(usage(6))
        #expect(try excessive() == 0)
        try stores[1].recordUsage(usage(6))  // 12 > 10: this one crosses
        #expect(try excessive() == 1)
        try stores[0].recordUsage(usage(6))
        #expect(try excessive() == 1)
        // Concurrently, in the next window: 16 flushes of 2 from both servers (32 > 10).
        onThreads(16) { i in try! stores[i % 2].recordUsage(usage(2, window: window + 1)) }
        #expect(try excessive() == 2)
        #expect(try stores[0].key(id: key.id)?.useCount == 18 + 32)
        // Old windows are forgotten: a batch two windows on removes the first.
        try stores[0].recordUsage(usage(1, window: window + 3))
        let left = try TestCluster.admin("SELECT window_start FROM \"\(db.schema)\".usage_window ORDER BY 1")
            .map { try $0.makeRandomAccess()[0].decode(Int64.self) }
        #expect(left == [window + 3])
    }

    @Test("Migrations from scratch, by four stores at once, leave one schema at the latest version")
    func concurrentMigrations() throws {
        let db = TestStore()
        let schema = db.schema
        let failures = Mutex<[String]>([])
        let opened = Mutex<[PostgresKeyStore]>([])
        onThreads(4) { _ in
            do {
                let store = try TestCluster.store(schema: schema)
                opened.withLock { $0.append(store) }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let versions = try TestCluster.admin("SELECT version FROM \"\(db.schema)\".schema_version")
            .map { try $0.makeRandomAccess()[0].decode(Int32.self) }
        #expect(versions == [1])
        for store in opened.withLock({ $0 }) {
            try seed(store, tenants: ["t\(UUID().uuidString.prefix(6))"])
            store.close()
        }
    }

    @Test("A schema newer than the code is refused with a clear message")
    func newerSchema() throws {
        let db = TestStore()
        _ = try db.open()
        try TestCluster.admin("INSERT INTO \"\(db.schema)\".schema_version (version) VALUES (99)")
        let error = #expect(throws: PostgresStoreError.self) { try db.open() }
        #expect(error?.kind == .schemaTooNew)
        #expect(error?.message.contains("version 99") == true)
    }
}

extension Error {
    /// A DomainError's reason, or a description of anything else.
    var reason: String { (self as? DomainError)?.reason ?? "\(self)" }
}
