@testable import APIKeysDomain
import Foundation
import Synchronization
import Testing

@Suite("Usage flush in several transactions (X9)")
struct UsageFlushTests {
    /// An in-memory store whose usage writes can be made to fail.
    final class FlakyStore: KeyStore {
        let inner = InMemoryKeyStore()
        /// Usage writes that succeed before the next one fails (nil: never fails).
        let successesBeforeFailure = Mutex<Int?>(nil)
        let usageWrites = Mutex(0)
        /// Runs inside each usage write, before it is stored.
        let duringWrite = Mutex<(@Sendable () -> Void)?>(nil)

        struct Injected: Error {}

        func recordUsage(_ batch: UsageBatch) throws {
            let fail = successesBeforeFailure.withLock { remaining -> Bool in
                guard let left = remaining else { return false }
                if left == 0 { remaining = nil; return true }
                remaining = left - 1
                return false
            }
            if fail { throw Injected() }
            duringWrite.withLock { $0 }?()
            usageWrites.withLock { $0 += 1 }
            try inner.recordUsage(batch)
        }

        func write<T>(_ body: (any StoreTransaction) throws -> T) throws -> T { try inner.write(body) }
        func listKeys(_ query: KeyQuery) throws -> [APIKey] { try inner.listKeys(query) }
        func listEvents(_ query: EventQuery) throws -> [Event] { try inner.listEvents(query) }
        func deleteEvents(before time: Int64, limit: Int) throws -> Int { try inner.deleteEvents(before: time, limit: limit) }
        func loadSnapshot(_ consume: (SnapshotRecord) throws -> Void) throws { try inner.loadSnapshot(consume) }
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

    @Test("X9: 10,000 used keys are stored in several transactions, each count once, also when one of them fails")
    func chunkedFlushWithFailure() async throws {
        // Seconds of synchronous work in a debug build: on a thread of its own, not one of the
        // few cooperative threads that other suites need meanwhile.
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread { continuation.resume(with: Result { try Self.chunkedFlush() }) }.start()
        }
    }

    static func chunkedFlush() throws {
        let store = FlakyStore()
        let clock = ManualClock()
        clock.set(milliseconds: 1_735_689_600_000)
        let service = try APIKeyService(store: store, clock: clock)
        _ = try service.createTenant(.operator, id: "acme", name: "Acme")
        _ = try service.createUser(.operator, tenantID: "acme", userID: "dev", displayName: "Dev", roles: [.developer], licensed: true)
        let admin = try service.createUser(.operator, tenantID: "acme", userID: "admin", displayName: "A", roles: [.tenantAdmin], licensed: true)
        _ = try service.updateSettings(.member(.init(tenantID: "acme", userID: admin.userID, via: .service(name: "t"))), SettingsUpdate(apiKeysEnabled: true))
        // Keys written straight to the store (generating 10,000 through the service is slow).
        var secrets: [(id: String, secret: String)] = []
        try store.write { tx in
            for i in 0..<10_000 {
                let generated = SecretCodec.generate(.apiKey)
                try tx.insertKey(APIKey(
                    id: generated.id, tenantID: "acme", ownerID: "dev", name: "k\(i)", createdAt: clock.nowMilliseconds,
                    updatedAt: clock.nowMilliseconds, expiresAt: clock.nowMilliseconds + 86_400_000, secretHash: generated.hash))
                secrets.append((generated.id, generated.secret))
            }
        }
        try service.reloadIndex()
        let gateway = Caller.service(name: "gateway")
        for (i, key) in secrets.enumerated() {
            for _ in 0...(i % 3) { _ = try service.verify(key.secret, verifier: gateway) }
        }
        // The second transaction fails: the first stays stored, the rest waits for the next flush.
        store.successesBeforeFailure.withLock { $0 = 1 }
        #expect(throws: DomainError.self) { try service.flushPending() }
        #expect(store.usageWrites.withLock { $0 } == 1)
        try service.flushPending()
        #expect(APIKeyService.usageRowsPerTransaction == 4_096)
        #expect(store.usageWrites.withLock { $0 } == 3)  // 4,096; then the other 5,904 as 4,096 + 1,808
        for (i, key) in secrets.enumerated() {
            #expect(try store.key(id: key.id)?.useCount == UInt64(i % 3 + 1))
        }
        try service.flushPending()  // nothing left: nothing counted twice
        #expect(try store.key(id: secrets[2].id)?.useCount == 3)
    }

    @Test("X9: while a flush is being stored, the key still shows every use (no dip in the count)")
    func countDuringFlush() throws {
        let store = FlakyStore()
        let clock = ManualClock()
        let service = try APIKeyService(store: store, clock: clock)
        _ = try service.createTenant(.operator, id: "acme", name: "Acme")
        _ = try service.createUser(.operator, tenantID: "acme", userID: "dev", displayName: "Dev", roles: [.developer, .tenantAdmin], licensed: true)
        let dev = Caller.member(.init(tenantID: "acme", userID: "dev", via: .service(name: "t")))
        _ = try service.updateSettings(dev, SettingsUpdate(apiKeysEnabled: true))
        let generated = try service.generate(dev, name: "ci")
        let gateway = Caller.service(name: "gateway")
        for _ in 0..<4 { _ = try service.verify(generated.secret, verifier: gateway) }
        let seen = Mutex<[UInt64]>([])
        store.duringWrite.withLock { hook in
            hook = { seen.withLock { $0.append((try? service.get(dev, keyID: generated.key.id).useCount) ?? 0) } }
        }
        try service.flushPending()
        _ = try service.verify(generated.secret, verifier: gateway)
        try service.flushPending()
        #expect(seen.withLock { $0 } == [4, 5])  // before each write: stored + in flight
        #expect(try service.get(dev, keyID: generated.key.id).useCount == 5)
        #expect(try store.key(id: generated.key.id)?.useCount == 5)
    }
}
