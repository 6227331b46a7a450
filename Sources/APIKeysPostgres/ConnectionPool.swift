import APIKeysDomain
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// A few open connections shared by the store's calls, handed out one call at a time.
///
/// A connection that failed is closed and forgotten; the next call that needs one opens a
/// new one, so the store recovers by itself once the database is back.
final class ConnectionPool: @unchecked Sendable {
    let location: PostgresLocation
    private let configuration: PostgresKeyStore.Configuration
    private let logger: Logger
    private let group: any EventLoopGroup
    private let tls: PostgresConnection.Configuration.TLS

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var isClosed = false
    private var nextID = 1

    init(location: PostgresLocation, configuration: PostgresKeyStore.Configuration, logger: Logger) throws {
        self.location = location
        self.configuration = configuration
        self.logger = logger
        group = MultiThreadedEventLoopGroup.singleton
        tls = location.requireTLS
            ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable
    }

    /// Lends a connection to `body`; returns it afterwards unless it broke.
    func withSession<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let connection = try acquire()
        let session = PostgresSession(connection: connection, location: location, statementTimeout: configuration.statementTimeout, logger: logger)
        defer { release(connection, broken: session.isBroken) }
        return try body(session)
    }

    /// Opens a connection outside the pool (the change listener, migrations' lock holder).
    func connect(purpose: String) throws -> PostgresConnection {
        let id = condition.withLock { () -> Int in
            nextID += 1
            return nextID
        }
        var config = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user,
            password: location.password, database: location.database, tls: tls)
        config.options.connectTimeout = .nanoseconds(Int64(configuration.connectTimeout.seconds * 1e9))
        config.options.additionalStartupParameters = [
            ("search_path", "\"\(location.schema)\", public"),
            // Operators (and tests) tell the connections of a schema and the listener apart.
            ("application_name", "apikeys \(purpose) \(location.schema)"),
        ]
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: config, id: id, logger: logger).wait()
        } catch {
            throw PostgresFailure.map(error, location, doing: "connecting (\(purpose))")
        }
    }

    private func acquire() throws -> PostgresConnection {
        let deadline = Date().addingTimeInterval(configuration.acquireTimeout.seconds)
        condition.lock()
        while true {
            if isClosed {
                condition.unlock()
                throw StoreUnavailable("the PostgreSQL store for \(location) is closed")
            }
            if let connection = idle.popLast() {
                condition.unlock()
                if connection.isClosed {  // lost while idle (server restart): open another
                    forget()
                    return try acquire()
                }
                return connection
            }
            if open < configuration.maxConnections {
                open += 1
                condition.unlock()
                do {
                    return try connect(purpose: "pool")
                } catch {
                    forget()
                    throw error
                }
            }
            if !condition.wait(until: deadline) {
                condition.unlock()
                throw StoreUnavailable(
                    "no free PostgreSQL connection to \(location.address) within \(configuration.acquireTimeout)")
            }
        }
    }

    private func release(_ connection: PostgresConnection, broken: Bool) {
        condition.lock()
        if broken || isClosed || connection.isClosed {
            open -= 1
            condition.unlock()
            connection.closeInBackground()
        } else {
            idle.append(connection)
            condition.unlock()
        }
        condition.signal()
    }

    private func forget() {
        condition.withLock { open -= 1 }
        condition.signal()
    }

    /// Closes the idle connections now and the lent ones when they come back.
    func close() {
        let connections = condition.withLock { () -> [PostgresConnection] in
            isClosed = true
            defer { idle = [] }
            open -= idle.count
            return idle
        }
        condition.broadcast()
        for connection in connections { connection.closeInBackground() }
    }
}

extension Duration {
    /// In seconds, for Foundation's and NIO's time types.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
