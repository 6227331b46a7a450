import APIKeysDomain
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// One pooled connection lent to one call: runs statements and waits for them on the
/// calling thread (the domain runs on a thread pool; NIO traps a wait on an event loop).
final class PostgresSession {
    let connection: PostgresConnection
    let location: PostgresLocation
    let logger: Logger
    /// Set when the connection can no longer be trusted (lost, or a rollback failed): the
    /// pool closes it instead of lending it again.
    var isBroken = false

    let statementTimeout: TimeAmount

    init(connection: PostgresConnection, location: PostgresLocation, statementTimeout: Duration = .seconds(15), logger: Logger) {
        self.connection = connection
        self.location = location
        self.statementTimeout = .nanoseconds(Int64(statementTimeout.components.seconds) * 1_000_000_000
            + statementTimeout.components.attoseconds / 1_000_000_000)
        self.logger = logger
    }

    /// Runs `query` and returns its rows; `what` names it in errors (never its arguments).
    @discardableResult
    func rows(_ query: PostgresQuery, _ what: String) throws -> [PostgresRow] {
        try result(query, what).rows
    }

    /// Runs `query` and returns how many rows it touched.
    @discardableResult
    func execute(_ query: PostgresQuery, _ what: String) throws -> Int {
        try result(query, what).metadata.rows ?? 0
    }

    func result(_ query: PostgresQuery, _ what: String) throws -> PostgresQueryResult {
        let connection = self.connection
        let timedOut = NIOLockedValueBox(false)
        // Closing the connection fails the statement: the wait below ends.
        let timer = connection.eventLoop.scheduleTask(in: statementTimeout) {
            timedOut.withLockedValue { $0 = true }
            connection.closeInBackground()
        }
        defer { timer.cancel() }
        do {
            return try connection.query(query, logger: logger).wait()
        } catch {
            if timedOut.withLockedValue({ $0 }) {
                isBroken = true
                throw StoreUnavailable("PostgreSQL at \(location.address) did not answer \(what) within \(statementTimeout.nanoseconds / 1_000_000_000) s")
            }
            let mapped = PostgresFailure.map(error, location, doing: what)
            if mapped is StoreUnavailable || connection.isClosed { isBroken = true }
            throw mapped
        }
    }
}

extension PostgresConnection {
    /// Closes without waiting (callers may be on any thread); a lost connection's failure
    /// to close is of no interest. The connection is kept alive until closed (postgres-nio
    /// asserts that a connection is closed before it is freed).
    func closeInBackground() {
        let closed: EventLoopFuture<Void> = close()
        closed.whenComplete { _ in withExtendedLifetime(self) {} }
    }
}
