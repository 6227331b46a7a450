import APIKeysWire
import Synchronization

/// The connections of one `APIKeysClient` to one server, replaced as they end
/// (docs/PROTOCOL.md §5, §10).
///
/// It connects lazily, on the first call, and keeps up to `poolSize` connections: a call
/// goes to the least busy open one, and another is opened while every open one is busy. A
/// connection that got a GoAway or closed takes no new call; the next call opens a fresh
/// one. Failed attempts back off exponentially with jitter, shared by every waiting call.
/// A call the server did not run (a GoAway's last_call_id below it, or never sent) is sent
/// again; one whose connection broke after it was sent may have run, and is sent again
/// only when the caller says the method is idempotent.
final class ConnectionPool: Sendable {
    let host: String
    let port: Int
    let configuration: APIKeysClient.Configuration
    private let state: Mutex<State>
    /// Calls between their start and their end, for a graceful close.
    private let callsInFlight = Atomic<Int>(0)

    private struct Slot {
        var connection: PooledConnection?
        var dialing = false
        /// Consecutive failed attempts, for the backoff.
        var failures = 0
        var retryAt = ContinuousClock.now
        var lastError: RPCError?
        var permanent = false
    }

    private struct State {
        var slots: [Slot]
        /// Draining after a GoAway, still finishing calls: closed with the pool.
        var retired: [PooledConnection] = []
        /// No new calls: `close` or a graceful shutdown began.
        var closed = false
        /// Counts every attempt that ended: a waiter that saw an older value has news.
        var generation: UInt64 = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waiters woken (timer, cancellation) before they started waiting.
        var woken: Set<Int> = []
        var nextWaiter = 0
        var statistics = APIKeysClient.Statistics()
    }

    init(host: String, port: Int, configuration: APIKeysClient.Configuration) {
        self.host = host
        self.port = port
        self.configuration = configuration
        state = Mutex(State(slots: Array(repeating: Slot(), count: max(1, configuration.poolSize))))
    }

    var statistics: APIKeysClient.Statistics {
        state.withLock { state in
            var statistics = state.statistics
            let open = state.slots.compactMap(\.connection).filter { $0.connection.acceptsCalls }
            statistics.openConnections = open.count
            statistics.callsPerConnection = open.map(\.callsStarted)
            return statistics
        }
    }

    // MARK: - calls

    /// One call, sent again while the server reports it not run; throws only `RPCError`.
    func call(_ method: String, message: [UInt8], metadata: [String: String], timeout: Duration?,
              idempotent: Bool) async throws -> ResponseFrame {
        callsInFlight.add(1, ordering: .relaxed)
        defer { callsInFlight.subtract(1, ordering: .relaxed) }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var attempts = 0
        while true {
            let pooled = try await acquire(deadline: deadline)
            var remaining: Duration?
            if let deadline {
                remaining = deadline - .now
                if remaining! <= .zero {
                    pooled.release()
                    throw RPCError(code: .deadlineExceeded, message: "the call's deadline passed before it was sent")
                }
            }
            let failure: CallFailure
            switch await pooled.attempt(method, message: message, metadata: metadata, timeout: remaining) {
            case .success(let response): return response
            case .failure(let error): failure = error
            }
            let again = failure.fate == .notSent || failure.fate == .notRun || (failure.fate == .lost && idempotent)
            guard again, attempts < configuration.maxRetries, !Task.isCancelled,
                  !state.withLock({ $0.closed }) else { throw failure.error }
            attempts += 1
            state.withLock { $0.statistics.retries += 1 }
        }
    }

    /// The settings of an open connection, waiting for one as a call would.
    func serverSettings() async throws -> ServerSettings {
        let pooled = try await acquire(deadline: configuration.timeout.map { ContinuousClock.now + $0 })
        pooled.release()
        return pooled.connection.serverSettings
    }

    /// Opens one connection now, a single attempt; throws its failure.
    func connectNow() async throws {
        let attempt = try await dial()
        let unused = state.withLock { state -> PooledConnection? in
            guard !state.closed else { return attempt }
            state.statistics.connectionsOpened += 1
            if let index = state.slots.firstIndex(where: { $0.connection == nil && !$0.dialing }) {
                state.slots[index] = Slot(connection: attempt)
                return nil
            }
            return attempt
        }
        if let unused { await unused.connection.close() }
    }

    // MARK: - connections

    private enum Decision {
        case ready(PooledConnection)
        case fail(RPCError)
        case wait(generation: UInt64, until: ContinuousClock.Instant?, lastError: RPCError?)
    }

    /// A connection that takes calls, reserved for one call (`PooledConnection.reserve`),
    /// opening one if needed; waits, reconnecting with backoff, until `deadline` or the
    /// connection wait passes.
    private func acquire(deadline: ContinuousClock.Instant?) async throws -> PooledConnection {
        let waitEnd = ContinuousClock.now + configuration.connectionWait
        let limit = deadline.map { min($0, waitEnd) } ?? waitEnd
        while true {
            if Task.isCancelled {
                throw RPCError(code: .cancelled, message: "the call was cancelled while waiting for a connection to \(address)")
            }
            let now = ContinuousClock.now
            switch state.withLock({ decide(&$0, now: now) }) {
            case .ready(let pooled):
                return pooled
            case .fail(let error):
                throw error
            case .wait(let generation, let retryAt, let lastError):
                if now >= limit {
                    let last = lastError.map { " (last attempt: \($0.message))" } ?? ""
                    if let deadline, deadline <= waitEnd {
                        throw RPCError(code: .deadlineExceeded,
                                       message: "no connection to \(address) within the call's deadline\(last)")
                    }
                    throw RPCError(code: .unavailable, message: "no connection to \(address) within \(configuration.connectionWait)\(last)")
                }
                await waitForChange(since: generation, until: retryAt.map { min($0, limit) } ?? limit)
            }
        }
    }

    private func decide(_ state: inout State, now: ContinuousClock.Instant) -> Decision {
        if state.closed { return .fail(RPCError(code: .cancelled, message: "the client is closed")) }
        for index in state.slots.indices {
            if let pooled = state.slots[index].connection, !pooled.connection.acceptsCalls {
                // Draining after a GoAway (the server closes it when its calls are answered) or closed.
                state.retired.append(pooled)
                state.slots[index].connection = nil
            }
        }
        state.retired.removeAll { !$0.connection.isActive }
        let best = state.slots.compactMap(\.connection).min { $0.inFlight < $1.inFlight }
        // Grow only while every connection is busy, so sequential use keeps one.
        if best == nil || best!.inFlight > 0,
           let index = state.slots.indices.first(where: {
               state.slots[$0].connection == nil && !state.slots[$0].dialing && now >= state.slots[$0].retryAt
           }) {
            startDial(&state, slot: index)
        }
        if let best {
            best.reserve()
            return .ready(best)
        }
        let dialing = state.slots.contains { $0.dialing }
        if !dialing, let permanent = state.slots.first(where: { $0.permanent })?.lastError {
            return .fail(permanent)
        }
        let retryAt = state.slots.filter { !$0.dialing && $0.connection == nil }.map(\.retryAt).min()
        let lastError = state.slots.compactMap(\.lastError).first
        return .wait(generation: state.generation, until: dialing ? nil : retryAt, lastError: lastError)
    }

    /// Opens a connection for `slot` in the background; every waiting call hears when it ends.
    private func startDial(_ state: inout State, slot index: Int) {
        state.slots[index].dialing = true
        Task {
            let result: Result<PooledConnection, RPCError>
            do {
                result = .success(try await dial())
            } catch {
                result = .failure(error as? RPCError ?? RPCError(code: .unavailable, message: "\(error)"))
            }
            let (waiters, unused) = self.state.withLock { state -> ([CheckedContinuation<Void, Never>], PooledConnection?) in
                state.slots[index].dialing = false
                var unused: PooledConnection?
                switch result {
                case .success(let pooled):
                    if state.closed {
                        unused = pooled
                    } else {
                        state.slots[index] = Slot(connection: pooled)
                        state.statistics.connectionsOpened += 1
                    }
                case .failure(let error):
                    state.slots[index].failures += 1
                    state.slots[index].retryAt = .now + backoff(failures: state.slots[index].failures)
                    state.slots[index].lastError = error
                    state.statistics.connectFailures += 1
                }
                state.generation += 1
                defer { state.waiters.removeAll() }
                return (Array(state.waiters.values), unused)
            }
            for waiter in waiters { waiter.resume() }
            if let unused { await unused.connection.close() }
        }
    }

    /// One attempt: connect, handshake, the server's settings; failures as UNAVAILABLE.
    private func dial() async throws -> PooledConnection {
        var connection = RPCConnection.Configuration()
        connection.tls = configuration.tls
        connection.connectTimeout = configuration.handshakeTimeout
        connection.handshakeTimeout = configuration.handshakeTimeout
        do {
            return PooledConnection(try await RPCConnection.connect(host: host, port: port, configuration: connection))
        } catch {
            let (failure, permanent) = ConnectFailure.describe(error, host: host, port: port)
            if permanent { markPermanent(failure) }
            throw failure
        }
    }

    private func markPermanent(_ error: RPCError) {
        state.withLock { state in
            for index in state.slots.indices where state.slots[index].dialing { state.slots[index].permanent = true }
        }
    }

    /// base·2^(failures-1), at most the maximum, drawn between half and all of it.
    private func backoff(failures: Int) -> Duration {
        var delay = configuration.backoffBase
        for _ in 1..<max(1, failures) where delay < configuration.backoffMax { delay *= 2 }
        let (seconds, attoseconds) = min(delay, configuration.backoffMax).components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: nanoseconds / 2...max(nanoseconds / 2, nanoseconds)))
    }

    /// Sleeps until an attempt ends after `generation`, `until`, or cancellation.
    private func waitForChange(since generation: UInt64, until: ContinuousClock.Instant) async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timer = Task {
            guard (try? await Task.sleep(until: until, clock: .continuous)) != nil else { return }
            self.wake(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    if state.generation != generation || state.closed || state.woken.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            wake(id)
        }
        timer.cancel()
        _ = state.withLock { $0.woken.remove(id) }
    }

    private func wake(_ id: Int) {
        let waiter = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                state.woken.insert(id)
                return nil as CheckedContinuation<Void, Never>?
            }
            return waiter
        }
        waiter?.resume()
    }

    // MARK: - closing

    /// Closes every connection at once; calls still running fail, later ones are CANCELLED.
    func close() async {
        let (connections, waiters) = state.withLock { state in
            state.closed = true
            let connections = state.slots.compactMap(\.connection) + state.retired
            for index in state.slots.indices { state.slots[index].connection = nil }
            state.retired = []
            defer { state.waiters.removeAll() }
            return (connections, Array(state.waiters.values))
        }
        for waiter in waiters { waiter.resume() }
        for pooled in connections { await pooled.connection.close() }
    }

    /// Takes no new call, lets the calls in flight finish (up to `grace`), then closes.
    func shutdownGracefully(grace: Duration) async {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
        let end = ContinuousClock.now + grace
        while callsInFlight.load(ordering: .relaxed) > 0, ContinuousClock.now < end {
            try? await Task.sleep(for: .milliseconds(10))
        }
        await close()
    }

    private var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
