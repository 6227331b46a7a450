import APIKeysWire
import Synchronization

/// One connection of a `ConnectionPool`, with the counts the pool spreads calls by.
final class PooledConnection: Sendable {
    let connection: RPCConnection
    private let running = Atomic<Int>(0)
    private let started = Atomic<Int>(0)

    init(_ connection: RPCConnection) {
        self.connection = connection
    }

    /// Calls in flight on it now.
    var inFlight: Int { running.load(ordering: .relaxed) }
    /// Calls started on it so far.
    var callsStarted: Int { started.load(ordering: .relaxed) }

    /// Counts a call as in flight here from the moment the pool picks this connection, so
    /// calls picking at the same moment see each other and spread.
    func reserve() {
        running.add(1, ordering: .relaxed)
        started.add(1, ordering: .relaxed)
    }

    /// Runs a call reserved with `reserve()`.
    func attempt(_ method: String, message: [UInt8], metadata: [String: String],
                 timeout: Duration?) async -> Result<ResponseFrame, CallFailure> {
        defer { running.subtract(1, ordering: .relaxed) }
        return await connection.attempt(method, message: message, metadata: metadata, timeout: timeout)
    }

    /// Gives back a reservation that will not be used.
    func release() {
        running.subtract(1, ordering: .relaxed)
    }
}
