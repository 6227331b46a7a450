import APIKeysDomain
import Synchronization
import Testing

/// X20 event volume and finding 9 (internal errors).
@Suite("Event volume and internal errors (X20)")
struct EventVolumeTests {
    @Test("X20: one actor's refusals are one event per action, reason and minute, with a count")
    func mergedRefusals() throws {
        let f = try Fixture()
        for _ in 0..<100 { _ = try? f.service.getSettings(f.dev) }
        for _ in 0..<7 { _ = try? f.service.get(f.dev, keyID: "key_nosuchkeyatallxxxxxx") }
        #expect(f.events(EventAction.permissionDenied).count == 1)  // the first is stored at once
        try f.service.flushPending()
        let denied = f.events(EventAction.permissionDenied)
        #expect(denied.map(\.count) == [100])
        #expect(f.events("key.get").map(\.count) == [7])
        // Another actor, or the next minute, is an event of its own.
        _ = try? f.service.getSettings(f.dev2)
        f.clock.advance(bySeconds: 60)
        for _ in 0..<3 { _ = try? f.service.getSettings(f.dev) }
        try f.service.flushPending()
        let all = f.events(EventAction.permissionDenied)
        #expect(all.count == 3)
        #expect(all.reduce(0) { $0 + $1.count } == 104)
        // The listing shows the counts too.
        let listed = try f.service.listEvents(f.admin, EventListRequest(action: EventAction.permissionDenied)).events
        #expect(listed.map(\.count) == [3, 1, 100])
        #expect(f.events(EventAction.keyGenerated).allSatisfy { $0.count == 1 })
    }

    @Test("X20: RevokeMany's refusals are one event per reason, counting the keys")
    func revokeManyRefusals() throws {
        let f = try Fixture()
        let ids = (0..<5).map { "key_missing\($0)" }
        let results = try f.service.revokeMany(f.admin, keyIDs: ids)
        #expect(results.allSatisfy { $0.outcome == .notFound })
        let refused = f.events(EventAction.keyRevoked).filter { $0.outcome == .failure }
        #expect(refused.map(\.count) == [5])
    }

    @Test("X20: events past the retention period are deleted in small batches; newer ones stay")
    func retention() throws {
        let f = try Fixture()
        for i in 0..<5 { _ = try f.generate(f.dev, "old\(i)") }  // 5 key.generated, plus the fixture's events
        let oldCount = f.store.allEvents.count
        f.clock.advance(bySeconds: 10 * 86_400)
        _ = try f.generate(f.dev2, "new")
        #expect(try f.service.pruneEvents(olderThan: .seconds(5 * 86_400), batchSize: 2, maxBatches: 1) == 2)
        var deleted = 2
        var n = 0
        repeat {
            n = try f.service.pruneEvents(olderThan: .seconds(5 * 86_400), batchSize: 2, maxBatches: 1)
            deleted += n
        } while n > 0
        #expect(deleted == oldCount)
        #expect(f.store.allEvents.map(\.action) == [EventAction.keyGenerated])
        #expect(try f.service.pruneEvents(olderThan: .seconds(400 * 86_400)) == 0)
    }

    @Test("Finding 9: an INTERNAL answer says only 'internal error' and an error ID; the cause is kept aside")
    func internalError() throws {
        let inner = InMemoryKeyStore()
        let store = FailingStore(inner)
        let service = try APIKeyService(store: store, clock: ManualClock())
        store.failing.withLock { $0 = true }
        let error = expectRefusal(.internal, "internal") { _ = try service.createTenant(.operator, id: "acme", name: "Acme") }
        let message = try #require(error?.message)
        let id = try #require(error?.errorID)
        #expect(message == "internal error; error ID \(id)")
        #expect(id.count == 16 && id.allSatisfy(\.isHexDigit))
        #expect(error?.cause?.contains("disk is full") == true)
        #expect(!message.contains("disk"))
    }
}

/// A store whose writes fail like a full disk while `failing` is set.
final class FailingStore: KeyStore {
    struct DiskFull: Error, CustomStringConvertible {
        var description: String { "SQLite error 13: database or disk is full - while executing COMMIT TRANSACTION" }
    }

    let inner: InMemoryKeyStore
    let failing = Mutex(false)

    init(_ inner: InMemoryKeyStore) { self.inner = inner }

    func write<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        if failing.withLock({ $0 }) { throw DiskFull() }
        return try inner.write(body)
    }
    func listKeys(_ query: KeyQuery) throws -> [APIKey] { try inner.listKeys(query) }
    func listEvents(_ query: EventQuery) throws -> [Event] { try inner.listEvents(query) }
    func loadSnapshot(_ consume: (SnapshotRecord) throws -> Void) throws { try inner.loadSnapshot(consume) }
    func recordUsage(_ batch: UsageBatch) throws { try inner.recordUsage(batch) }
    func deleteEvents(before time: Int64, limit: Int) throws -> Int { try inner.deleteEvents(before: time, limit: limit) }
    func tenant(id: String) throws -> Tenant? { try inner.tenant(id: id) }
    func user(tenantID: String, userID: String) throws -> User? { try inner.user(tenantID: tenantID, userID: userID) }
    func users(tenantID: String) throws -> [User] { try inner.users(tenantID: tenantID) }
    func key(id: String) throws -> APIKey? { try inner.key(id: id) }
    func keys(tenantID: String, ownerID: String) throws -> [APIKey] { try inner.keys(tenantID: tenantID, ownerID: ownerID) }
    func countActiveKeys(tenantID: String, ownerID: String, asOf: Int64) throws -> Int {
        try inner.countActiveKeys(tenantID: tenantID, ownerID: ownerID, asOf: asOf)
    }
    func hasOperatorCredential() throws -> Bool { try inner.hasOperatorCredential() }
    func credentials() throws -> [Credential] { try inner.credentials() }
}
