import APIKeysDomain
import APIKeysPostgres
import APIKeysStorage
import BenchCore
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// The storage rows, through APIKeyService, in process, with no RPC in front:
//
//   bench-storage generate --data-dir DIR [--seconds 5] [--callers 1]
//       Keys/Generate back to back on a fresh SQLite store (WAL, synchronous=FULL): each a
//       durable commit (fsync).
//   bench-storage generate --store postgres://…?schema=NAME [--servers 1] [--callers 1] [--seconds 5]
//       The same on PostgreSQL, in a new schema: --servers APIKeyServices, each over a
//       PostgresKeyStore of its own (as that many apikeysd would be), share the schema; the
//       callers (threads) are spread over them round robin.
//   bench-storage list --data-dir DIR [--iterations 300]
//       Keys/List as the tenant admin over a store seeded by bench-seed: a browse, two
//       searches, a status filter and paging five pages deep; p50/p99 per shape.
let args = Arguments()
let command = args.positional.first ?? "list"
let dataDir = args.string("data-dir", "bench-data")
let tenantID = "bench"

@MainActor func open(_ path: String) -> APIKeyService {
    do { return try APIKeyService(store: try SQLiteKeyStore(path: path)) } catch { fail("cannot open \(path): \(error)") }
}

func member(_ userID: String) -> Caller {
    .member(Caller.Member(tenantID: tenantID, userID: userID, via: .service(ServiceIdentity(name: "bench", credentialID: "configured:bench"))))
}

/// Runs `callers` threads calling `body(thread, i)` back to back for `seconds`; each call
/// timed. Returns the calls made, the time from the first start to the last end, and the
/// latencies of all threads.
func runThreads(callers: Int, seconds: Double, _ body: @escaping @Sendable (Int, Int) throws -> Void)
    -> (calls: Int, elapsed: Double, samples: Samples)
{
    let merged = Mutex(Samples(capacity: 1 << 16))
    let failure = Mutex<String?>(nil)
    let group = DispatchGroup()
    let start = nowNanos()
    let end = start + UInt64(seconds * 1e9)
    for thread in 0..<callers {
        group.enter()
        let worker = Thread {
            var samples = Samples(capacity: 1 << 14)
            var i = 0
            var t = nowNanos()
            while t < end {
                do { try body(thread, i) } catch {
                    failure.withLock { $0 = "generate failed: \(error)" }
                    break
                }
                let done = nowNanos()
                samples.add(nanoseconds: done - t)
                t = done
                i += 1
            }
            merged.withLock { $0.merge(samples) }
            group.leave()
        }
        worker.stackSize = 1 << 20
        worker.start()
    }
    group.wait()
    if let message = failure.withLock({ $0 }) { fail(message) }
    let samples = merged.withLock { $0 }
    return (samples.count, Double(nowNanos() - start) / 1e9, samples)
}

/// The tenant and its 200 Developer users that Generate runs as.
func setUp(_ store: any KeyStore, users: Int) {
    do {
        try store.write { tx in
            try tx.insertTenant(Tenant(
                id: tenantID, name: "Benchmark tenant", createdAt: 0,
                settings: TenantSettings(apiKeysEnabled: true, maxExpirySeconds: 31_536_000, maxKeysPerUser: 1000)))
            for u in 0..<users {
                try tx.insertUser(User(tenantID: tenantID, userID: "user-\(u)", displayName: "User \(u)",
                                       roles: [.developer], licensed: true, createdAt: 0))
            }
        }
    } catch { fail("cannot set up the store \(store): \(error)") }
}

@MainActor func generate() {
    let seconds = args.double("seconds", 5)
    let callers = max(1, args.int("callers", 1))
    let users = 200
    var services: [APIKeyService] = []
    var postgresStores: [PostgresKeyStore] = []
    let kind: String
    if let url = args.optionalString("store") {
        let servers = max(1, args.int("servers", 1))
        var logger = Logger(label: "bench-storage")
        logger.logLevel = .warning
        var configuration = PostgresKeyStore.Configuration()
        // As apikeysd sizes it: one connection per pool thread and a few more.
        configuration.maxConnections = max(8, callers + 4)
        do {
            for _ in 0..<servers {
                postgresStores.append(try PostgresKeyStore(url: url, configuration: configuration, logger: logger))
            }
        } catch { fail("cannot open \(url): \(error)") }
        setUp(postgresStores[0], users: users)
        do {
            services = try postgresStores.map { try APIKeyService(store: $0, maxStaleness: .seconds(30)) }
        } catch { fail("cannot open the service: \(error)") }
        kind = "postgres"
    } else {
        mkdir(dataDir, 0o755)
        let path = dataDir + "/apikeys.sqlite"
        unlink(path); unlink(path + "-wal"); unlink(path + "-shm")
        let store: SQLiteKeyStore
        do { store = try SQLiteKeyStore(path: path) } catch { fail("cannot open \(path): \(error)") }
        setUp(store, users: users)
        do { services = [try APIKeyService(store: store)] } catch { fail("cannot open the service: \(error)") }
        kind = "sqlite"
    }
    let callerList = (0..<users).map { member("user-\($0)") }
    let all = services
    // Thread t calls service t % servers as its own users t, t + callers, … in turn: no two
    // threads generate for one user at once (no R16 contention), and each user gets at
    // most a few hundred keys.
    let (calls, elapsed, samples) = runThreads(callers: callers, seconds: seconds) { thread, i in
        let service = all[thread % all.count]
        let owned = (users - 1 - thread % users) / callers + 1
        let user = (thread + callers * (i % owned)) % users
        _ = try service.generate(callerList[user], name: "generated key \(thread)-\(i)")
    }
    for store in postgresStores { store.close() }
    let p = samples.percentilesMicros([50, 99])
    // Group commit (issue 14): how many writes each commit carried, setup included.
    let commits = all.reduce(0) { $0 + $1.writeCommits.commits }, writes = all.reduce(0) { $0 + $1.writeCommits.writes }
    print("op=generate store=\(kind) servers=\(services.count) callers=\(callers) keys_per_s=\(fmt(Double(calls) / elapsed, 0)) p50_us=\(fmt(p[0], 0)) p99_us=\(fmt(p[1], 0)) calls=\(calls) seconds=\(fmt(elapsed, 2)) writes_per_commit=\(fmt(Double(writes) / Double(max(commits, 1)), 1))")
}

@MainActor func list() {
    let iterations = args.int("iterations", 300)
    let maxSeconds = args.double("max-seconds", 15)
    let t0 = nowNanos()
    let service = open(dataDir + "/apikeys.sqlite")
    let loadSeconds = Double(nowNanos() - t0) / 1e9
    let admin = member("admin")
    let shapes: [(String, KeyListRequest)] = [
        ("browse", KeyListRequest(sortBy: .created, descending: true, pageSize: 20)),
        ("search", KeyListRequest(search: "billing", sortBy: .name, pageSize: 20)),
        ("search-rare", KeyListRequest(search: "key 4242", sortBy: .expires, pageSize: 20)),
        ("status", KeyListRequest(status: .revoked, sortBy: .updated, descending: true, pageSize: 50)),
    ]
    var all = Samples(capacity: 1 << 16)
    func timed(_ request: KeyListRequest) -> KeyPage {
        let t = nowNanos()
        let page: KeyPage
        do { page = try service.list(admin, request) } catch { fail("list failed: \(error)") }
        all.add(nanoseconds: nowNanos() - t)
        return page
    }
    for (name, request) in shapes {
        for _ in 0..<5 { _ = timed(request) }  // warm the page cache
        var s = Samples(capacity: iterations)
        var rows = 0
        // At a million keys a substring search takes up to seconds: cap each shape's time.
        let deadline = nowNanos() + UInt64(maxSeconds * 1e9)
        for _ in 0..<iterations where nowNanos() < deadline {
            let t = nowNanos()
            let page = timed(request)
            s.add(nanoseconds: nowNanos() - t)
            rows = page.keys.count
        }
        let p = s.percentilesMicros([50, 99])
        print("op=list shape=\(name) rows=\(rows) p50_us=\(fmt(p[0], 0)) p99_us=\(fmt(p[1], 0)) samples=\(s.count)")
    }
    // Paging: five pages of a search sorted by name, each page timed.
    var s = Samples(capacity: iterations * 5)
    let deadline = nowNanos() + UInt64(maxSeconds * 1e9)
    for _ in 0..<(iterations / 5) where nowNanos() < deadline {
        var request = KeyListRequest(search: "deploy", sortBy: .name, pageSize: 20)
        for _ in 0..<5 {
            let t = nowNanos()
            let page = timed(request)
            s.add(nanoseconds: nowNanos() - t)
            request.pageToken = page.nextPageToken
        }
    }
    let p = s.percentilesMicros([50, 99])
    print("op=list shape=paging rows=20 p50_us=\(fmt(p[0], 0)) p99_us=\(fmt(p[1], 0))")
    let q = all.percentilesMicros([50, 99])
    print("op=list shape=all p50_us=\(fmt(q[0], 0)) p99_us=\(fmt(q[1], 0)) index_load_s=\(fmt(loadSeconds, 2))")
}

switch command {
case "generate": generate()
case "list": list()
default: fail("usage: bench-storage generate|list ...")
}
