import APIKeysDomain
import GRDB
import Synchronization

/// The ``KeyStore`` on a SQLite file: a GRDB `DatabasePool` in WAL mode with
/// `synchronous=FULL`, so an acknowledged write survives SIGKILL and power loss.
///
/// ```swift
/// let store = try SQLiteKeyStore(path: "/var/lib/apikeys/keys.sqlite")
/// let service = try APIKeyService(store: store)
/// ```
///
/// Writes run in `BEGIN IMMEDIATE` transactions on the pool's single writer connection;
/// reads run concurrently on reader connections and see the last commit.
public final class SQLiteKeyStore: KeyStore {
    let pool: DatabasePool
    private let usageWritesAtIdlePriority: Bool
    private let windowTotals = UsageWindowTotals()
    private let usageRecording = Mutex(())

    /// Tuning with defaults for a server.
    public struct Configuration: Sendable {
        /// SQLite's page cache per connection, allocated as pages are used. SQLite's default
        /// of 2 MiB makes the usage flush at 100,000 keys read most pages with a system call.
        public var pageCacheMiB = 32
        /// Writes usage counters in Linux's idle scheduling class (`IdlePriority`), so that the
        /// once-a-second flush never takes the CPU from the event loops; a server sets this.
        public var usageWritesAtIdlePriority = false

        public init() {}
    }

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    public init(path: String, configuration: Configuration = Configuration()) throws {
        let pageCacheKiB = configuration.pageCacheMiB * 1024
        usageWritesAtIdlePriority = configuration.usageWritesAtIdlePriority
        var config = GRDB.Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            try db.execute(sql: "PRAGMA cache_size = -\(pageCacheKiB)")
        }
        pool = try DatabasePool(path: path, configuration: config)
        // GRDB sets synchronous=NORMAL when it enables WAL; durable commits need FULL
        // on the writer connection, which lives as long as the pool.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        try SQLiteSchema.migrator.migrate(pool)
    }

    /// The writer connection's `PRAGMA synchronous` (2 is FULL); for tests.
    public func synchronousMode() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// The journal mode ("wal"); for tests.
    public func journalMode() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    public func write<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.immediate) {
                result = try body(SQLiteTransaction(db: db))
                return .commit
            }
            return result!
        }
    }

    /// Durable commits cost an fsync each (synchronous=FULL): shared, they are the cost of
    /// one per group, not one per write.
    public var groupsWrites: Bool { true }

    public func writeGroup(_ bodies: [(any StoreTransaction) throws -> Void]) throws -> [(any Error)?] {
        try pool.writeWithoutTransaction { db in
            var errors: [(any Error)?] = []
            try db.inTransaction(.immediate) {
                errors = []
                let tx = SQLiteTransaction(db: db)
                for body in bodies {
                    do {
                        // A failed body's savepoint is rolled back by GRDB before it rethrows.
                        try db.inSavepoint {
                            try body(tx)
                            return .commit
                        }
                        errors.append(nil)
                    } catch {
                        errors.append(error)
                    }
                }
                return .commit
            }
            return errors
        }
    }

    public func listKeys(_ query: KeyQuery) throws -> [APIKey] {
        try pool.read { db in
            let (sql, arguments) = SQLiteListing.keys(query, trigramQuery: try Self.searchIndexQuery(for: query, db))
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(SQLiteQueries.key)
        }
    }

    /// The trigram index query to read `query`'s rows with, or nil to walk a sort index: one
    /// owner's keys are few and found by the owner index; a search shorter than a trigram or
    /// whose trigrams are common is answered faster by the walk.
    static func searchIndexQuery(for query: KeyQuery, _ db: Database) throws -> String? {
        guard query.ownerID == nil, let search = query.search, let trigrams = SQLiteListing.trigramQuery(search) else {
            return nil
        }
        let limit = SQLiteListing.searchIndexCandidateLimit
        let count = try Int.fetchOne(db, sql: SQLiteListing.searchCandidateCount, arguments: [trigrams, limit + 1]) ?? 0
        return count <= limit ? trigrams : nil
    }

    public func listEvents(_ query: EventQuery) throws -> [Event] {
        let (sql, arguments) = SQLiteListing.events(query)
        return try pool.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments).map(SQLiteQueries.event) }
    }

    /// One query per table, streamed row by row. Tenant and owner become numbers in the index's
    /// own table of strings, so rows are not interned here.
    public func loadSnapshot(_ consume: (SnapshotRecord) throws -> Void) throws {
        try pool.read { db in
            let tenants = try Row.fetchCursor(db, sql: "SELECT \(SQLiteQueries.tenantColumns) FROM tenant")
            while let row = try tenants.next() {
                let tenant = SQLiteQueries.tenant(row)
                try consume(.tenant(id: tenant.id, settings: tenant.settings))
            }
            let users = try Row.fetchCursor(db, sql: "SELECT \(SQLiteQueries.userColumns) FROM directory_user")
            while let row = try users.next() { try consume(.user(SQLiteQueries.user(row))) }
            let credentials = try Row.fetchCursor(db, sql: "SELECT \(SQLiteQueries.credentialColumns) FROM credential")
            while let row = try credentials.next() { try consume(.credential(SQLiteQueries.credential(row))) }
            try consume(.keyCount(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM api_key") ?? 0))
            // The key table is read whole, once: mapped, its pages are read where the kernel's
            // page cache holds them instead of being copied by a pread each (a tenth of
            // start-up at ten million keys). Unmapped again after.
            try db.execute(sql: "PRAGMA mmap_size = \(Self.snapshotMapBytes)")
            defer { try? db.execute(sql: "PRAGMA mmap_size = 0") }
            let keys = try Row.fetchCursor(db, sql: """
                SELECT id, tenant_id, owner_id, secret_hash, expires_at, revoked_at IS NOT NULL, expiry_recorded
                FROM api_key
                """)
            while let row = try keys.next() {
                guard let hash = try SQLiteQueries.hash(row, 3) else {
                    throw StorageError.corrupt("api_key \(row[0] as String? ?? "?") has no valid secret hash")
                }
                try consume(.key(KeySnapshot(
                    id: row[0], tenantID: row[1], ownerID: row[2], secretHash: hash,
                    expiresAt: row[4], revoked: row[5], expiryRecorded: row[6])))
            }
            // Reading every key filled this connection's page cache (up to `pageCacheMiB`)
            // with pages that listings rarely want again: give them back (issue 14, goal 6).
            try db.execute(sql: "PRAGMA shrink_memory")
        }
    }

    /// Large enough for any store this server can hold in memory (SQLite caps it at its own
    /// compile-time maximum).
    static let snapshotMapBytes: Int64 = 1 << 40

    public func recordUsage(_ batch: UsageBatch) throws {
        guard !batch.isEmpty else { return }
        // Two flushes at once (a reload's and the timer's) must not both raise one window's event.
        try usageRecording.withLock { _ in try recordUsageSerially(batch) }
    }

    private func recordUsageSerially(_ batch: UsageBatch) throws {
        let (excessiveUse, totals) = windowTotals.tally(batch.windows)
        try write { tx in
            let sqlite = tx as! SQLiteTransaction
            if usageWritesAtIdlePriority {
                try IdlePriority.during { try sqlite.addUsage(batch.usage) }
            } else {
                try sqlite.addUsage(batch.usage)
            }
            let db = sqlite.db
            let expired = try db.cachedStatement(sql: "UPDATE api_key SET expiry_recorded = 1 WHERE id = ?")
            for id in batch.expiryRecorded { try expired.execute(arguments: [id]) }
            for event in batch.events { try tx.insertEvent(event) }
            for event in excessiveUse { try tx.insertEvent(event) }
        }
        windowTotals.commit(totals)
    }

    public func deleteEvents(before time: Int64, limit: Int) throws -> Int {
        try pool.write { db in
            try db.execute(sql: """
                DELETE FROM event WHERE id IN (
                    SELECT id FROM event INDEXED BY event_time WHERE time < ? ORDER BY time LIMIT ?)
                """, arguments: [time, limit])
            return db.changesCount
        }
    }

    // MARK: StoreReader

    public func tenant(id: String) throws -> Tenant? { try pool.read { try SQLiteQueries.tenant($0, id: id) } }

    public func user(tenantID: String, userID: String) throws -> User? {
        try pool.read { try SQLiteQueries.user($0, tenantID: tenantID, userID: userID) }
    }

    public func users(tenantID: String) throws -> [User] {
        try pool.read { try SQLiteQueries.users($0, tenantID: tenantID) }
    }

    public func key(id: String) throws -> APIKey? { try pool.read { try SQLiteQueries.key($0, id: id) } }

    public func keys(tenantID: String, ownerID: String) throws -> [APIKey] {
        try pool.read { try SQLiteQueries.keys($0, tenantID: tenantID, ownerID: ownerID) }
    }

    public func countActiveKeys(tenantID: String, ownerID: String, asOf: Int64) throws -> Int {
        try pool.read { try SQLiteQueries.countActiveKeys($0, tenantID: tenantID, ownerID: ownerID, asOf: asOf) }
    }

    public func hasOperatorCredential() throws -> Bool { try pool.read { try SQLiteQueries.hasOperatorCredential($0) } }

    public func credentials() throws -> [Credential] { try pool.read { try SQLiteQueries.credentials($0) } }
}
