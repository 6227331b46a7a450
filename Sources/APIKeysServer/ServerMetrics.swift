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
