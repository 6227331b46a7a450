import Foundation

/// The thread that writes usage counters every `interval`. Each flush runs in Linux's idle
/// scheduling class (`IdlePriority`, set by APIKeysServer around it), so it never takes the
/// CPU from the event loops; a thread of its own keeps the flush off the pool that serves
/// management calls.
final class UsageFlushThread: @unchecked Sendable {
    private let interval: TimeInterval
    private let body: @Sendable () -> Void
    /// Guards the three flags below.
    private let condition = NSCondition()
    private var started = false
    private var stopping = false
    private var finished = false

    init(interval: Duration, body: @escaping @Sendable () -> Void) {
        let parts = interval.components
        self.interval = Double(parts.seconds) + Double(parts.attoseconds) / 1e18
        self.body = body
    }

    func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        let thread = Thread { [self] in run() }
        thread.start()
    }

    /// Stops the thread after one last flush, so that every flush, the shutdown's too, runs
    /// from this thread.
    func stop() {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        while started && !finished { condition.wait() }
    }

    private func run() {
        Thread.current.name = "apikeys-flush"
        condition.lock()
        while !stopping {
            let deadline = Date(timeIntervalSinceNow: interval)
            while !stopping, condition.wait(until: deadline) {}  // true: woken before the deadline
            condition.unlock()
            body()
            condition.lock()
        }
        // Stopped (the server takes no more calls): what was counted during the last flush.
        condition.unlock()
        body()
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}
