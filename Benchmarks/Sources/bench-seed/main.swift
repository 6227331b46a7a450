import APIKeysDomain
import APIKeysPostgres
import APIKeysStorage
import BenchCore
import GRDB
import Logging

#if canImport(Glibc)
import Glibc
#endif

// Writes N keys straight into a store through its transactions (batched, not one RPC per
// key), the way apikeysd would have stored them:
//
//   bench-seed --data-dir DIR --keys N [--tsv 100000]                 SQLite: DIR/apikeys.sqlite
//   bench-seed --store postgres://…?schema=NAME --data-dir DIR --keys N [--tsv 100000]
//
// Tenant "bench" (API keys enabled), N/500 Developer users (at least 10) plus an admin,
// 2% of the keys revoked. The first --tsv keys get real secrets (SecretCodec) and are
// listed, if active, in DIR/keys.tsv for the load generators; the rest get valid IDs and
// random hashes (no secret: generating a million would only cost time). Also writes
// DIR/service.secret, a service credential to start apikeysd with.
//
// With --store (PostgresKeyStore), the schema must be new or empty: the tenant is inserted,
// not replaced. Each batch is one serializable transaction with one INSERT round trip per
// key and its change-log entries written at commit, as apikeysd's own writes are; --batch
// sets the keys per transaction (default 50,000). --copy-to FILE writes the keys as COPY rows
// to FILE instead (the directory still through the store), for scripts/bench.sh to load with
// psql's \copy while api_key's indexes are dropped: through the store, a million keys took
// 19 minutes of `make bench`.
//
// --bulk (SQLite only; `make bench-large`, ten million keys): the same rows through the same
// store writes, but with api_key's indexes and full-text trigger dropped first and built
// again once at the end (CREATE INDEX sorts once; ten million inserts into eight B-trees and
// the trigram index would take most of an hour). --tsv-every K gives every K-th key a real
// secret, so that the listed keys are spread over the whole table, not its first rows.
let args = Arguments()
let dataDir = args.string("data-dir", "bench-data")
let storeURL = args.optionalString("store")
let count = args.int("keys", 100_000)
let tsvLimit = args.int("tsv", 100_000)
let batch = max(1, args.int("batch", 50_000))
let bulk = args.flag("bulk")
let tsvEvery = max(1, args.int("tsv-every", 1))
let copyTo = args.optionalString("copy-to")
let tenantID = "bench"
let users = max(10, count / 500)
let words = ["billing", "search", "deploy", "mobile", "reports", "metrics", "backup", "etl", "web", "ci"]

mkdir(dataDir, 0o755)
let store: any KeyStore
let location: String
if let storeURL {
    var logger = Logger(label: "bench-seed")
    logger.logLevel = .warning
    do { store = try PostgresKeyStore(url: storeURL, logger: logger) } catch { fail("cannot open \(storeURL): \(error)") }
    location = "\(store)"
} else {
    let path = dataDir + "/apikeys.sqlite"
    unlink(path); unlink(path + "-wal"); unlink(path + "-shm")
    // A page cache that holds the whole file: seeding a million keys otherwise spends most of
    // its time reading and writing index pages through system calls.
    var storeConfiguration = SQLiteKeyStore.Configuration()
    storeConfiguration.pageCacheMiB = 2_048
    do { store = try SQLiteKeyStore(path: path, configuration: storeConfiguration) } catch { fail("cannot open \(path): \(error)") }
    location = path
}
let sqlitePath = dataDir + "/apikeys.sqlite"
if bulk && storeURL != nil { fail("--bulk is for the SQLite store only") }
if copyTo != nil && storeURL == nil { fail("--copy-to is for the PostgreSQL store only") }

/// api_key's indexes and triggers, dropped for a bulk load and created again after it (their
/// SQL is the schema's own, read from sqlite_master).
@MainActor func withoutKeyIndexes(_ body: () throws -> Void) throws {
    let queue = try DatabaseQueue(path: sqlitePath)
    let saved = try queue.read { db in
        try Row.fetchAll(db, sql: """
            SELECT type, name, sql FROM sqlite_master
            WHERE tbl_name = 'api_key' AND type IN ('index', 'trigger') AND sql IS NOT NULL
            """).map { (type: $0["type"] as String, name: $0["name"] as String, sql: $0["sql"] as String) }
    }
    try queue.write { db in
        for object in saved { try db.execute(sql: "DROP \(object.type.uppercased()) \(object.name)") }
    }
    try body()
    let t = nowNanos()
    // A 2 GiB page cache: CREATE INDEX over ten million rows otherwise sorts through temp files.
    try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA cache_size = -2097152") }
    try queue.write { db in
        for object in saved where object.type == "index" { try db.execute(sql: object.sql) }
        for object in saved where object.type == "trigger" { try db.execute(sql: object.sql) }
        try db.execute(sql: "INSERT INTO api_key_search (api_key_search) VALUES ('rebuild')")
    }
    try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    note("bench-seed: indexes and the trigram index built in \(fmt(Double(nowNanos() - t) / 1e9, 1)) s")
}

var clock = timespec()
clock_gettime(CLOCK_REALTIME, &clock)
let now = Int64(clock.tv_sec) * 1000 + Int64(clock.tv_nsec) / 1_000_000
let day: Int64 = 86_400_000
let t0 = nowNanos()

var rng = SplitMix64(seed: UInt64(count))
let base32 = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
@MainActor func syntheticKeyID() -> String {
    var chars = Array("key_".utf8)
    for _ in 0..<20 { chars.append(base32[Int(rng.next() & 31)]) }
    return String(decoding: chars, as: UTF8.self)
}
@MainActor func userID(_ i: Int) -> String { "user-\(i % users)" }

do {
    try store.write { tx in
        try tx.insertTenant(Tenant(
            id: tenantID, name: "Benchmark tenant", createdAt: now - 400 * day,
            settings: TenantSettings(apiKeysEnabled: true, maxExpirySeconds: 31_536_000, maxKeysPerUser: 1000,
                                     excessiveUsePerMinute: 600, updatedAt: now - 400 * day)))
        try tx.insertUser(User(tenantID: tenantID, userID: "admin", displayName: "Admin",
                               roles: [.tenantAdmin, .developer], licensed: true, createdAt: now - 400 * day))
        for u in 0..<users {
            try tx.insertUser(User(tenantID: tenantID, userID: "user-\(u)", displayName: "User \(u)",
                                   roles: [.developer], licensed: true, createdAt: now - 400 * day))
        }
    }
} catch { fail("cannot write the directory: \(error)") }

var tsv = ""
var listed = 0

/// Key i of the seed: a real secret for the listed ones (returned), else a valid ID and a
/// random hash.
@MainActor func makeKey(_ i: Int) -> (APIKey, String?) {
    let id: String
    let hash: SecretHash
    var secret: String?
    if i % tsvEvery == 0 && i / tsvEvery < tsvLimit {
        let generated = SecretCodec.generate(.apiKey)
        (id, hash, secret) = (generated.id, generated.hash, generated.secret)
    } else {
        id = syntheticKeyID()
        hash = SecretHash(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next())
    }
    let created = now - 300 * day + Int64(i) * (200 * day / Int64(max(count, 1)))
    let revoked = i % 50 == 49
    let key = APIKey(
        id: id, tenantID: tenantID, ownerID: userID(i), name: "\(words[i % words.count]) key \(i)",
        createdAt: created, updatedAt: revoked ? created + day : created,
        expiresAt: now + 200 * day + Int64(i % 100) * day,
        revokedAt: revoked ? created + day : nil, revokeReason: revoked ? "rotated" : "",
        secretHash: hash)
    return (key, revoked ? nil : secret)
}

func listedLine(_ key: APIKey, _ secret: String) -> String {
    KeySet.Entry(secret: secret, tenantID: tenantID, userID: key.ownerID, keyID: key.id,
                 expiresAtMs: key.expiresAt, roles: ["Developer"]).line + "\n"
}

@MainActor func insertKeys() {
    var next = 0
    while next < count {
        let end = min(count, next + batch)
        do {
            // A store that retries a transaction (PostgreSQL after a serialization failure) runs
            // the body again: the batch's lines are kept only once it committed.
            let (lines, linesListed) = try store.write { tx -> (String, Int) in
                var lines = ""
                var linesListed = 0
                for i in next..<end {
                    let (key, secret) = makeKey(i)
                    try tx.insertKey(key)
                    if let secret {
                        lines += listedLine(key, secret)
                        linesListed += 1
                    }
                }
                return (lines, linesListed)
            }
            tsv += lines
            listed += linesListed
        } catch { fail("cannot write keys \(next)..<\(end): \(error)") }
        next = end
        if count >= 200_000, storeURL != nil || (bulk && next % 1_000_000 == 0) {
            note("bench-seed: \(next) of \(count) keys in \(fmt(Double(nowNanos() - t0) / 1e9, 1)) s")
        }
    }
}

/// --copy-to FILE: the keys as PostgreSQL COPY text rows of api_key (the columns of
/// PostgresTransaction.insertKey, in its order) instead of inserts.
let hexAlphabet = Array("0123456789abcdef".utf8)
@MainActor func copyKeys(to path: String) {
    guard let file = fopen(path, "w") else { fail("cannot write \(path)") }
    defer { fclose(file) }
    var out = ""
    for i in 0..<count {
        let (key, secret) = makeKey(i)
        var hexDigits: [UInt8] = []
        for byte in key.secretHash.bytes { hexDigits += [hexAlphabet[Int(byte >> 4)], hexAlphabet[Int(byte & 15)]] }
        let hex = String(decoding: hexDigits, as: UTF8.self)
        out += [key.id, key.tenantID, key.ownerID, key.name, key.name.lowercased(), key.ownerID.lowercased(),
                String(key.createdAt), String(key.updatedAt), String(key.expiresAt),
                key.revokedAt.map { String($0) } ?? "\\N", key.revokeReason, "\\\\x" + hex, "f"].joined(separator: "\t") + "\n"
        if let secret {
            tsv += listedLine(key, secret)
            listed += 1
        }
        if out.utf8.count >= 1 << 20 { fputs(out, file); out = "" }
    }
    fputs(out, file)
}

if let copyTo {
    copyKeys(to: copyTo)
} else if bulk {
    do { try withoutKeyIndexes(insertKeys) } catch { fail("bulk load into \(sqlitePath): \(error)") }
} else {
    insertKeys()
}
writeFile(dataDir + "/keys.tsv", tsv)
writeFile(dataDir + "/service.secret", SecretCodec.generate(.service).secret)
note("bench-seed: \(count) keys (\(listed) in keys.tsv), \(users) users in \(location) in \(fmt(Double(nowNanos() - t0) / 1e9, 1)) s")
(store as? PostgresKeyStore)?.close()
