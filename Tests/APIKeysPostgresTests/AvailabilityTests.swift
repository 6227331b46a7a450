import APIKeysDomain
import APIKeysPostgres
import Foundation
import Synchronization
import Testing

@Suite("PostgreSQL store: outages and notifications")
struct AvailabilityTests {
    @Test("The database stopped: every call is StoreUnavailable at once; after it restarts the same store works, listener included")
    func outageAndRecovery() throws {
        let cluster = try OwnCluster.start()
        defer { cluster.remove() }
        let store = try TestCluster.store(schema: "outage", base: cluster.url)
        defer { store.close() }
        let calls = Atomic<Int>(0)
        store.watchChanges { calls.add(1, ordering: .relaxed) }
        #expect(eventually { calls.load(ordering: .relaxed) >= 1 })  // once at connect
        try seed(store)
        try cluster.halt()
        let started = Date()
        let port = URLComponents(string: cluster.url)!.port!
        for call in [{ try store.ping() }, { _ = try store.tenant(id: "acme") }, { try seed(store, tenants: ["globex"]) },
                     { _ = try store.changes(after: 0, limit: 10) }] as [() throws -> Void] {
            let error = #expect(throws: StoreUnavailable.self) { try call() }
            #expect(error?.message.contains("127.0.0.1:\(port)") == true, "\(String(describing: error))")
        }
        #expect(Date().timeIntervalSince(started) < 10)
        let before = calls.load(ordering: .relaxed)
        try cluster.restart()
        #expect(eventually(15) { (try? store.ping()) != nil })
        #expect(try store.tenant(id: "acme")?.id == "acme")
        try seed(store, tenants: ["globex"])
        // The listener reconnected (one call) and heard the write (maybe coalesced).
        #expect(eventually(15) { calls.load(ordering: .relaxed) > before })
    }

    @Test("watchChanges: a write through one store wakes the other; a terminated listener reconnects and calls again")
    func notifications() throws {
        let db = TestStore()
        let watcher = try db.open(), writer = try db.open()
        let calls = Atomic<Int>(0)
        watcher.watchChanges { calls.add(1, ordering: .relaxed) }
        #expect(eventually { calls.load(ordering: .relaxed) == 1 })
        try seed(writer)
        #expect(eventually { calls.load(ordering: .relaxed) == 2 })
        // Writes that change nothing in the log notify nobody.
        try writer.write { tx in _ = try tx.tenant(id: "acme") }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(calls.load(ordering: .relaxed) == 2)
        // A store of another schema does not wake this one.
        let elsewhere = TestStore()
        try seed(try elsewhere.open())
        Thread.sleep(forTimeInterval: 0.3)
        #expect(calls.load(ordering: .relaxed) == 2)
        // Kill the listener's backend: it reconnects and calls once more, then hears writes again.
        let killed = try TestCluster.admin("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'apikeys listener \(db.schema)'
            """)
        #expect(killed.count == 1)
        #expect(eventually { calls.load(ordering: .relaxed) == 3 })
        try writer.write { tx in try tx.updateSettings(tenantID: "acme", TenantSettings(apiKeysEnabled: true)) }
        #expect(eventually { calls.load(ordering: .relaxed) == 4 })
    }

    @Test("A database that hangs (sockets open, no answer): a call is StoreUnavailable after the statement timeout, and works once it answers again")
    func hungDatabase() throws {
        let cluster = try OwnCluster.start()
        defer { cluster.remove() }
        var configuration = PostgresKeyStore.Configuration()
        configuration.statementTimeout = .seconds(1)
        let store = try TestCluster.store(schema: "hung", base: cluster.url, configuration: configuration)
        defer { store.close() }
        try seed(store)
        try cluster.signalAll(hang: true)
        let started = Date()
        let error = #expect(throws: StoreUnavailable.self) { _ = try store.tenant(id: "acme") }
        let waited = Date().timeIntervalSince(started)
        try cluster.signalAll(hang: false)
        #expect(error?.message.contains("did not answer") == true, "\(String(describing: error))")
        #expect(waited < 5)
        #expect(eventually(15) { (try? store.tenant(id: "acme"))??.id == "acme" })
    }

    @Test("A terminated pool connection is replaced on the next call")
    func terminatedConnection() throws {
        let db = TestStore()
        let store = try db.open()
        try seed(store)
        try TestCluster.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'apikeys pool \(db.schema)'")
        // The first call may find its idle connection dead (unavailable); the next one reconnects.
        _ = try? store.tenant(id: "acme")
        #expect(try store.tenant(id: "acme")?.id == "acme")
    }
}
