import APIKeysDomain
import Logging
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

    init(connection: PostgresConnection, location: PostgresLocation, logger: Logger) {
        self.connection = connection
        self.location = location
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
        do {
            return try connection.query(query, logger: logger).wait()
        } catch {
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
