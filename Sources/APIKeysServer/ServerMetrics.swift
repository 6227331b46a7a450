import APIKeysWire
import CoreMetrics
import Metrics
import Synchronization

/// The server's metrics through swift-metrics; whichever backend is bootstrapped (Prometheus
/// under `--http-port`) exports them. Handles are made once per label set and cached, so
/// a call costs a dictionary lookup, not a factory call.
final class ServerMetrics: Sendable {
    private let calls = Mutex<[String: (counter: Counter, timer: Timer)]>([:])
    private let verifyOutcomes = Mutex<[String: Counter]>([:])
    let connections = Meter(label: "apikeys_connections_open")
    let storeErrors = Counter(label: "apikeys_store_errors_total")
    let flushBatch = Recorder(label: "apikeys_usage_flush_batch_size", aggregate: true)
    /// Seconds since the previous successful flush: above the interval, flushes are late.
    let flushLag = Gauge(label: "apikeys_usage_flush_lag_seconds")
    let indexSize = Gauge(label: "apikeys_index_keys")
    /// Connections whose client left so much output unread that the server stopped reading them.
    let connectionsPaused = Meter(label: "apikeys_connections_reading_paused")
    /// Large responses replaced by RESOURCE_EXHAUSTED because output went unread.
    let responsesReplaced = Counter(label: "apikeys_responses_replaced_total")
    /// X21, on a shared store: seconds since the index last held every committed change.
    let staleness = Gauge(label: "apikeys_store_staleness_seconds")
    /// X21: other servers' changes applied to this server's index.
    let changesApplied = Counter(label: "apikeys_store_changes_applied_total")

    func callFinished(_ call: FinishedCall) {
        let key = "\(call.method) \(call.code.rawValue)"
        let handles = calls.withLock { cache in
            if let found = cache[key] { return found }
            let made = (Counter(label: "apikeys_calls_total", dimensions: [("method", call.method), ("status", "\(call.code)")]),
                        Timer(label: "apikeys_call_duration_seconds", dimensions: [("method", call.method)],
                              preferredDisplayUnit: .seconds))
            cache[key] = made
            return made
        }
        handles.counter.increment()
        handles.timer.recordNanoseconds(call.duration.nanosecondsClamped)
    }

    /// `ok`, or the refusal's reason (`not_active`, `unknown_key`, ...).
    func verifyOutcome(_ reason: String) {
        let counter = verifyOutcomes.withLock { cache in
            if let found = cache[reason] { return found }
            let made = Counter(label: "apikeys_verify_total", dimensions: [("outcome", reason)])
            cache[reason] = made
            return made
        }
        counter.increment()
    }
}

extension Duration {
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow
            ? .max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
