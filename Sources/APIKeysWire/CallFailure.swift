import Synchronization

/// A client call that failed, with what the connection knows of whether the server ran it:
/// the reconnecting client sends again exactly the calls that were not
/// (docs/PROTOCOL.md §10, "Which retries are safe").
package struct CallFailure: Error, Sendable {
    package enum Fate: Sendable, Equatable {
        /// The server answered with a status, or the caller gave up (cancel, deadline).
        case answered
        /// The request never left this client: the connection was closing or closed.
        case notSent
        /// The server's GoAway (shutting down, idle, keepalive) says it did not run it.
        case notRun
        /// The connection ended after the request was sent and before an answer: maybe run.
        case lost
    }

    package var error: RPCError
    package var fate: Fate

    package init(_ error: RPCError, fate: Fate) {
        self.error = error
        self.fate = fate
    }
}

/// Whether a client connection still takes new calls; written on its event loop, read by
/// the reconnecting client from any thread.
final class ConnectionStatus: Sendable {
    private let accepting = Atomic<Bool>(true)

    var acceptsCalls: Bool { accepting.load(ordering: .relaxed) }

    func stopAcceptingCalls() { accepting.store(false, ordering: .relaxed) }
}
