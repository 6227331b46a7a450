import APIKeysDomain
import Foundation
import Logging
import PostgresNIO

/// The ``SharedKeyStore`` on PostgreSQL: several servers share one database (X21).
///
/// ```swift
/// let store = try PostgresKeyStore(url: "postgres://apikeys@db.internal/apikeys", logger: logger)
/// store.watchChanges { wakeCatchUp() }
/// let service = try APIKeyService(store: store)
/// ```
///
/// The port is synchronous and the domain calls it from a thread pool, never from an event
/// loop: each call borrows a pooled connection and waits for its statements (NIO traps a
/// wait on an event loop, which guards that rule). Writes are serializable and re-run on
/// serialization failures, so the domain's read-check-write rules (R16, the last admin)
/// hold across servers. A database that cannot be reached answers ``StoreUnavailable``;
/// the next call after it is back reconnects.
public final class PostgresKeyStore: SharedKeyStore {
    let pool: ConnectionPool
    let configuration: Configuration
    let logger: Logger
    private let listener: ChangeListener

    var location: PostgresLocation { pool.location }

    /// Connects to the database at `url` and migrates its schema.
    ///
    /// `url` is `postgres://user[:password]@host[:port]/database[?schema=NAME&sslmode=require]`
    /// (or `postgresql://`); without a password in it, `PGPASSWORD` is used. `schema`
    /// (default `public`) lets several stores share one database; it is created if missing.
    public init(url: String, configuration: Configuration = .init(), logger: Logger) throws {
        let location = try PostgresLocation(url: url)
        guard configuration.maxConnections >= 1, configuration.maxWriteAttempts >= 1 else {
            throw PostgresStoreError.configuration("maxConnections and maxWriteAttempts must be at least 1")
        }
        self.configuration = configuration
        self.logger = logger
        pool = try ConnectionPool(location: location, configuration: configuration, logger: logger)
        listener = ChangeListener(pool: pool, logger: logger)
        do {
            try pool.withSession { session in
                // A failed migration leaves the connection in an unknown state.
                session.isBroken = true
                try PostgresMigrator.migrate(session)
                session.isBroken = false
            }
        } catch {
            close()
            throw error
        }
    }

    /// Calls `onChange` (on a thread of the store's, never an event loop) when another
    /// transaction committed changes to this schema, and once after every (re)connect of the
    /// listening connection: the caller then reads ``changes(after:limit:)`` from its last
    /// position. Notifications that arrive while `onChange` runs are coalesced into one
    /// call. The listener reconnects with backoff until ``close()``. Call at most once.
    public func watchChanges(_ onChange: @escaping @Sendable () -> Void) {
        listener.start(onChange)
    }

    /// `SELECT 1`, for readiness: throws ``StoreUnavailable`` when the database is down.
    public func ping() throws {
        _ = try pool.withSession { try $0.execute("SELECT 1", "ping") }
    }

    /// Closes every connection and the listener; idempotent. Later calls are unavailable.
    public func close() {
        listener.stop()
        pool.close()
    }

    deinit { close() }

    // MARK: Writes

    public func write<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        try transaction(isolation: "SERIALIZABLE") { try body($0) }
    }

    /// Runs `body` in one transaction of `isolation`, writes its change-log entries at commit,
    /// and re-runs it after a serialization failure or a deadlock (with jittered backoff).
    func transaction<T>(isolation: String, _ body: (PostgresTransaction) throws -> T) throws -> T {
        try pool.withSession { session in
            var attempt = 1
            while true {
                let tx = PostgresTransaction(session: session)
                do {
                    try session.execute(PostgresQuery(unsafeSQL: "BEGIN ISOLATION LEVEL \(isolation)"), "beginning a transaction")
                    let result = try body(tx)
                    if !tx.changes.isEmpty { try appendToChangeLog(tx.changes, session) }
                    try commit(session)
                    return result
                } catch {
                    let retryable = (error as? PostgresStoreError)?.isRetryable == true || tx.sawRetryableFailure
                    rollback(session)
                    guard retryable, !session.isBroken, attempt < configuration.maxWriteAttempts else { throw error }
                    Self.backOff(attempt: attempt)
                    attempt += 1
                }
            }
        }
    }

    /// COMMIT of a transaction that failed silently rolls back: its command tag says so.
    private func commit(_ session: PostgresSession) throws {
        let result = try session.result("COMMIT", "committing")
        guard result.metadata.command == "COMMIT" else {
            throw PostgresStoreError(.database, "PostgreSQL rolled back a transaction that had failed (\(result.metadata.command))")
        }
    }

    private func rollback(_ session: PostgresSession) {
        guard !session.isBroken else { return }
        do { try session.execute("ROLLBACK", "rolling back") } catch { session.isBroken = true }
    }

    /// Up to 2^attempt ms, at most about a second, at random: competing servers spread out.
    static func backOff(attempt: Int) {
        let ceiling = 1 << min(attempt, 10)
        usleep(UInt32(Int.random(in: 0...ceiling) * 1_000 + 200))
    }

    // MARK: StoreReader

    public func tenant(id: String) throws -> Tenant? { try pool.withSession { try PostgresReads.tenant($0, id: id) } }
    public func user(tenantID: String, userID: String) throws -> User? {
        try pool.withSession { try PostgresReads.user($0, tenantID: tenantID, userID: userID) }
    }
    public func users(tenantID: String) throws -> [User] { try pool.withSession { try PostgresReads.users($0, tenantID: tenantID) } }
    public func key(id: String) throws -> APIKey? { try pool.withSession { try PostgresReads.key($0, id: id) } }
    public func keys(tenantID: String, ownerID: String) throws -> [APIKey] {
        try pool.withSession { try PostgresReads.keys($0, tenantID: tenantID, ownerID: ownerID) }
    }
    public func countActiveKeys(tenantID: String, ownerID: String, asOf: Int64) throws -> Int {
        try pool.withSession { try PostgresReads.countActiveKeys($0, tenantID: tenantID, ownerID: ownerID, asOf: asOf) }
    }
    public func hasOperatorCredential() throws -> Bool { try pool.withSession { try PostgresReads.hasOperatorCredential($0) } }
    public func credentials() throws -> [Credential] { try pool.withSession { try PostgresReads.credentials($0) } }
}

extension PostgresKeyStore: CustomStringConvertible {
    /// `postgres://user@host:port/database (schema NAME)`: for start-up lines; never the password.
    public var description: String { "postgres://\(location.user)@\(location.description)" }
}
