import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The `LISTEN apikeys_changes` connection behind ``PostgresKeyStore/watchChanges(_:)``.
///
/// A thread of its own connects, listens and then calls `onChange` once (changes may have
/// committed while it was not listening) and again after each notification for this
/// schema; when the connection is lost it reconnects with jittered backoff (100 ms doubling
/// to 5 s) until stopped. Notifications only wake the thread, so `onChange` never runs on
/// an event loop and may block.
final class ChangeListener: @unchecked Sendable {
    private let pool: ConnectionPool
    private let logger: Logger

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var notified = false
    private var lost = false
    private var stopped = false
    private var started = false
    private var connection: PostgresConnection?

    init(pool: ConnectionPool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    func start(_ onChange: @escaping @Sendable () -> Void) {
        let start = condition.withLock { () -> Bool in
            defer { started = true }
            return !started && !stopped
        }
        guard start else { return }
        let thread = Thread { [self] in run(onChange) }
        thread.name = "apikeys-postgres-listener"
        thread.start()
    }

    func stop() {
        let connection = condition.withLock { () -> PostgresConnection? in
            stopped = true
            defer { self.connection = nil }
            return self.connection
        }
        condition.broadcast()
        connection?.closeInBackground()
    }

    private func run(_ onChange: @Sendable () -> Void) {
        var delay = 0.1
        var failures = 0
        while !isStopped {
            do {
                try listen(onChange)
                delay = 0.1
                failures = 0
            } catch {
                failures += 1
                // Once per outage: the store's calls report it to their callers meanwhile.
                if failures == 1 { logger.warning("PostgreSQL change listener lost: \(error); retrying") }
            }
            sleep(Double.random(in: delay / 2...delay))
            delay = min(delay * 2, 5)
        }
    }

    /// One connection's life: returns when it is lost or the listener is stopped.
    private func listen(_ onChange: @Sendable () -> Void) throws {
        let connection = try pool.connect(purpose: "listener")
        let accepted = condition.withLock { () -> Bool in
            guard !stopped else { return false }
            self.connection = connection
            notified = false
            lost = false
            return true
        }
        guard accepted else {
            connection.closeInBackground()
            return
        }
        defer {
            condition.withLock { if self.connection === connection { self.connection = nil } }
            connection.closeInBackground()
        }
        let schema = pool.location.schema
        connection.addListener(channel: PostgresKeyStore.changeChannel) { [weak self] _, notification in
            guard notification.payload == schema, let self else { return }
            condition.withLock { notified = true }
            condition.signal()
        }
        connection.closeFuture.whenComplete { [weak self] _ in
            guard let self else { return }
            condition.withLock { lost = true }
            condition.signal()
        }
        // addListener sent its LISTEN first; this one returning means listening has begun.
        do {
            _ = try connection.query("LISTEN \(unescaped: PostgresKeyStore.changeChannel)", logger: logger).wait()
        } catch {
            throw PostgresFailure.map(error, pool.location, doing: "listening for changes")
        }
        logger.debug("PostgreSQL change listener connected to \(pool.location)")
        onChange()
        while true {
            condition.lock()
            while !notified && !lost && !stopped { condition.wait() }
            let wake = notified && !stopped
            notified = false
            let done = lost || stopped
            condition.unlock()
            if wake { onChange() }
            if done { return }
        }
    }

    private var isStopped: Bool { condition.withLock { stopped } }

    /// Sleeps `seconds`, or less when stopped.
    private func sleep(_ seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        while !stopped && condition.wait(until: deadline) {}
        condition.unlock()
    }
}
