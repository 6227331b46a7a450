import APIKeysDomain
import CoreMetrics
import Foundation
import Logging

/// X21: keeps this server's verification index current with a shared store. Catches up from
/// the change log when woken (a notification, a listener reconnect) and at least every
/// `interval`, so a lost notification delays a change by one interval at most. While the store
/// is unreachable it retries with backoff, logs the outage once and its end once; Verify
/// fails closed by itself once the index is older than the staleness limit.
final class ChangeFollower: @unchecked Sendable {
    private let interval: TimeInterval
    private let service: APIKeyService
    private let logger: Logger
    private let metrics: ServerMetrics?
    /// Guards the flags below.
    private let condition = NSCondition()
    private var started = false
    private var stopping = false
    private var finished = false
    private var woken = false

    init(interval: Duration, service: APIKeyService, logger: Logger, metrics: ServerMetrics?) {
        let parts = interval.components
        self.interval = Double(parts.seconds) + Double(parts.attoseconds) / 1e18
        self.service = service
        self.logger = logger
        self.metrics = metrics
    }

    func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        Thread { [self] in run() }.start()
    }

    /// Catch up now (from any thread, e.g. the listener's event loop): never blocks.
    func wake() {
        condition.lock()
        woken = true
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        while started && !finished { condition.wait() }
    }

    private func run() {
        Thread.current.name = "apikeys-changes"
        var outageStarted: Date?
        var backoff = interval
        condition.lock()
        while !stopping {
            let wait = outageStarted == nil ? interval : backoff
            let deadline = Date(timeIntervalSinceNow: wait)
            while !stopping, !woken, condition.wait(until: deadline) {}
            woken = false
            guard !stopping else { break }
            condition.unlock()
            do {
                let applied = try service.catchUp()
                if let since = outageStarted {
                    logger.notice("the store is reachable again: caught up", metadata: [
                        "outage_seconds": "\(String(format: "%.1f", Date().timeIntervalSince(since)))", "changes": "\(applied)",
                    ])
                    outageStarted = nil
                    backoff = interval
                }
                metrics?.changesApplied.increment(by: applied)
            } catch {
                metrics?.storeErrors.increment()
                if outageStarted == nil {
                    outageStarted = Date()
                    logger.error("cannot read the store's change log: retrying with backoff; Verify answers from memory until the staleness limit, writes answer UNAVAILABLE", metadata: [
                        "error": "\(error.cause ?? error.message)",
                    ])
                }
                backoff = min(5, backoff * 2 * Double.random(in: 0.8...1.2))
            }
            metrics?.staleness.record(Double(service.staleness) / 1000)
            condition.lock()
        }
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}
