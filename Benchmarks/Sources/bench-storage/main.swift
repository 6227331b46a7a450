import APIKeysDomain
import APIKeysStorage
import BenchCore

#if canImport(Glibc)
import Glibc
#endif

// The storage rows, through APIKeyService over SQLiteKeyStore (WAL, synchronous=FULL), in
// process, with no RPC in front:
//
//   bench-storage generate --data-dir DIR [--seconds 5]
//       Keys/Generate back to back on a fresh store: each a durable commit (fsync).
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

@MainActor func member(_ userID: String) -> Caller {
    .member(Caller.Member(tenantID: tenantID, userID: userID, via: .service(name: "bench")))
}

@MainActor func generate() {
    let seconds = args.double("seconds", 5)
    mkdir(dataDir, 0o755)
    let path = dataDir + "/apikeys.sqlite"
    unlink(path); unlink(path + "-wal"); unlink(path + "-shm")
    let store: SQLiteKeyStore
    do { store = try SQLiteKeyStore(path: path) } catch { fail("cannot open \(path): \(error)") }
    let users = 200
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
    } catch { fail("cannot set up \(path): \(error)") }
    let service: APIKeyService
    do { service = try APIKeyService(store: store) } catch { fail("cannot open the service: \(error)") }
    let callers = (0..<users).map { member("user-\($0)") }
    var samples = Samples(capacity: 1 << 16)
    let start = nowNanos()
    let end = start + UInt64(seconds * 1e9)
    var i = 0
    var t = start
    while t < end {
        do {
            _ = try service.generate(callers[i % users], name: "generated key \(i)")
        } catch { fail("generate failed: \(error)") }
        let done = nowNanos()
        samples.add(nanoseconds: done - t)
        t = done
        i += 1
    }
    let p = samples.percentilesMicros([50, 99])
    print("op=generate keys_per_s=\(fmt(Double(i) / (Double(t - start) / 1e9), 0)) p50_us=\(fmt(p[0], 0)) p99_us=\(fmt(p[1], 0)) calls=\(i)")
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
