import APIKeysDomain
import APIKeysStorage
import Dispatch
import Foundation
import Synchronization
import Testing

/// Issue 14, goal 5: concurrent writes share one SQLite transaction and fsync, and no rule
/// or answer changes because of it.
@Suite("Group commit on SQLite")
struct GroupCommitTests {
    func member(_ user: String) -> Caller {
        .member(Caller.Member(tenantID: "acme", userID: user, via: .service(name: "portal")))
    }

    func service(_ db: TempDatabase, maxKeysPerUser: UInt32 = 1000) throws -> APIKeyService {
        let service = try APIKeyService(store: try db.open(), clock: ManualClock())
        _ = try service.createTenant(.operator, id: "acme", name: "Acme")
        for user in ["ada"] + (0..<16).map({ "dev\($0)" }) {
            _ = try service.createUser(.operator, tenantID: "acme", userID: user, displayName: user,
                                       roles: [.tenantAdmin, .developer], licensed: true)
        }
        _ = try service.updateSettings(member("ada"), SettingsUpdate(apiKeysEnabled: true, maxKeysPerUser: maxKeysPerUser))
        return service
    }

    @Test("16 threads generating at once: every key committed, verifiable, and after a reopen still there; fewer commits than writes")
    func sixteenWriters() throws {
        let db = try TempDatabase()
        let service = try service(db)
        let before = service.writeCommits
        let secrets = Mutex<[String]>([])
        onThreads(16) { thread in
            for i in 0..<25 {
                let generated = try! service.generate(member("dev\(thread)"), name: "key \(thread)-\(i)")
                secrets.withLock { $0.append(generated.secret) }
            }
        }
        let after = service.writeCommits
        let all = secrets.withLock { $0 }
        #expect(all.count == 400 && Set(all).count == 400)
        #expect(after.writes - before.writes == 400)
        // Sixteen callers and a durable commit each: many share a commit.
        #expect(after.commits - before.commits < 400)
        for secret in all { _ = try service.verify(secret, verifier: .service(name: "gw")) }
        let reopened = try APIKeyService(store: try db.open(), clock: ManualClock())
        for secret in all.shuffled().prefix(50) { _ = try reopened.verify(secret, verifier: .service(name: "gw")) }
        #expect(try reopened.list(member("ada"), KeyListRequest(pageSize: 100)).keys.count == 100)
    }

    @Test("R16/X3 holds when the writes of one user share commits: exactly the limit is generated")
    func keyLimitUnderGrouping() throws {
        let db = try TempDatabase()
        let service = try service(db, maxKeysPerUser: 5)
        let outcomes = Mutex<[String]>([])
        onThreads(16) { thread in
            let outcome: String
            do throws(DomainError) {
                _ = try service.generate(member("dev0"), name: "race \(thread)")
                outcome = "ok"
            } catch {
                outcome = error.reason
            }
            outcomes.withLock { $0.append(outcome) }
        }
        let all = outcomes.withLock { $0 }
        #expect(all.filter { $0 == "ok" }.count == 5)
        #expect(all.filter { $0 == "key_limit" }.count == 11)
        let reopened = try APIKeyService(store: try db.open(), clock: ManualClock())
        #expect(try reopened.list(member("dev0"), KeyListRequest()).keys.count == 5)
    }

    @Test("A refused write in a group is rolled back alone, and its refusal is still an event (X10)")
    func refusalInAGroup() throws {
        let db = try TempDatabase()
        let service = try service(db)
        let refused = Atomic<Int>(0)
        onThreads(16) { thread in
            for i in 0..<10 {
                // Every other call has a name X12 refuses (a control character).
                let name = i % 2 == 0 ? "good \(thread)-\(i)" : "bad\u{7}\(thread)-\(i)"
                do {
                    _ = try service.generate(member("dev\(thread)"), name: name)
                } catch {
                    refused.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(refused.load(ordering: .relaxed) == 80)
        try service.flushPending()  // merged refusals' counts (X20) are stored with the flush
        let reopened = try APIKeyService(store: try db.open(), clock: ManualClock())
        var names: [String] = []
        var token = ""
        repeat {
            let page = try reopened.list(member("ada"), KeyListRequest(pageSize: 50, pageToken: token))
            names += page.keys.map(\.name)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(names.count == 80 && names.allSatisfy { $0.hasPrefix("good ") })
        let generatedEvents = try reopened.listEvents(member("ada"), EventListRequest(action: EventAction.keyGenerated, pageSize: 100)).events
        // 80 keys generated; the 80 refusals merged per actor and minute (X20): 16 events.
        #expect(generatedEvents.filter { $0.outcome == .success }.count == 80)
        let refusals = generatedEvents.filter { $0.outcome != .success }
        #expect(refusals.count == 16 && refusals.reduce(0) { $0 + Int($1.count) } == 80)
    }
}

/// `body` on `count` threads of their own at once (DispatchQueue.concurrentPerform runs at
/// most one per core, and serially when the pool is busy: it would not show concurrency).
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchSemaphore(value: 0)
    for index in 0..<count {
        let thread = Thread {
            body(index)
            done.signal()
        }
        thread.start()
    }
    for _ in 0..<count { done.wait() }
}
