/// The server side of one connection, as a pure state machine: the channel handler
/// feeds it events and performs the actions it returns. It owns the protocol's rules
/// (preface first, increasing call IDs, the concurrency limit, cancellation, deadlines,
/// keepalive, idle and graceful shutdown); it touches no socket and no clock.
struct ServerConnectionStateMachine {
    struct Limits: Sendable {
        var maxConcurrentCalls: Int
    }

    enum CallState: Equatable {
        /// Running; its response goes out when it finishes.
        case running
        /// Answered early (deadline) or cancelled by the client: still running, so it still
        /// counts toward the limit, but its eventual result is dropped.
        case settled
    }

    enum State: Equatable {
        case awaitingPreface
        case active
        /// GOAWAY sent with this last call ID; calls up to it finish, later ones are refused.
        case draining(lastCallID: UInt64)
        case closed
    }

    enum Action: Equatable {
        case none
        case sendSettings
        case startCall(RequestFrame)
        /// Answer a call without running it (limit reached, shutting down).
        case reject(callID: UInt64, RPCError)
        case cancelCall(callID: UInt64)
        /// Answer now and cancel the work (deadline passed).
        case answerAndCancel(callID: UInt64, RPCError)
        case sendResponse(close: Bool)
        case dropResponse(close: Bool)
        case sendPong(UInt64)
        case sendPing(UInt64)
        case sendGoAway(GoAwayFrame)
        case sendGoAwayAndClose(GoAwayFrame)
        case close
    }

    private(set) var state: State = .awaitingPreface
    private(set) var calls: [UInt64: CallState] = [:]
    private(set) var lastCallID: UInt64 = 0
    private var outstandingPing: UInt64?
    private var nextPingData: UInt64 = 1
    private let limits: Limits

    init(limits: Limits) {
        self.limits = limits
    }

    var callsInFlight: Int { calls.count }

    mutating func receivedPreface() -> Action {
        guard state == .awaitingPreface else { return .none }
        state = .active
        return .sendSettings
    }

    /// A byte-level error: bad preface, oversized or undecodable frame.
    mutating func decodingFailed(_ error: WireError) -> Action {
        let reason: GoAwayFrame.Reason
        switch error.code {
        case .frameTooLarge: reason = .frameTooLarge
        case .unsupportedVersion: reason = .unsupportedVersion
        default: reason = .protocolError
        }
        return fail(reason, error.message)
    }

    mutating func received(_ frame: Frame) -> Action {
        switch state {
        case .closed:
            return .none
        case .awaitingPreface:
            return fail(.protocolError, "the connection must start with the preface")
        case .active, .draining:
            break
        }
        switch frame {
        case .request(let request):
            return receivedRequest(request)
        case .cancel(let callID):
            guard calls[callID] == .running else { return .none }
            calls[callID] = .settled
            return .cancelCall(callID: callID)
        case .ping(let data):
            return .sendPong(data)
        case .pong(let data):
            if outstandingPing == data { outstandingPing = nil }
            return .none
        case .goAway:
            // The client will send no more calls: finish what runs, then close.
            if calls.isEmpty {
                state = .closed
                return .close
            }
            state = .draining(lastCallID: lastCallID)
            return .none
        case .response, .settings:
            return fail(.protocolError, "a client may not send response or settings frames")
        }
    }

    private mutating func receivedRequest(_ request: RequestFrame) -> Action {
        guard request.callID > lastCallID else {
            return fail(.protocolError, "call ID \(request.callID) is not above the previous call ID \(lastCallID)")
        }
        lastCallID = request.callID
        if case .draining(let last) = state, request.callID > last {
            return .reject(callID: request.callID, RPCError(code: .unavailable, message: "the server is shutting down; retry on a new connection"))
        }
        guard calls.count < limits.maxConcurrentCalls else {
            return .reject(callID: request.callID, RPCError(
                code: .resourceExhausted,
                message: "at most \(limits.maxConcurrentCalls) calls may be in flight on one connection"))
        }
        calls[request.callID] = .running
        return .startCall(request)
    }

    mutating func deadlinePassed(callID: UInt64) -> Action {
        guard calls[callID] == .running else { return .none }
        calls[callID] = .settled
        return .answerAndCancel(callID: callID, RPCError(code: .deadlineExceeded, message: "the call's deadline passed before it finished"))
    }

    /// A call's work returned; its slot is free from now on.
    mutating func callFinished(callID: UInt64) -> Action {
        guard let call = calls.removeValue(forKey: callID) else { return .none }
        let close: Bool
        if case .draining = state, calls.isEmpty {
            state = .closed
            close = true
        } else {
            close = false
        }
        return call == .running ? .sendResponse(close: close) : .dropResponse(close: close)
    }

    /// The connection saw no frame for the idle timeout.
    mutating func idleTimeoutPassed() -> Action {
        switch state {
        case .awaitingPreface:
            return fail(.handshakeTimeout, "no preface arrived in time")
        case .active, .draining:
            return calls.isEmpty ? fail(.idleTimeout, "the connection was idle too long") : .none
        case .closed:
            return .none
        }
    }

    mutating func handshakeTimeoutPassed() -> Action {
        state == .awaitingPreface ? fail(.handshakeTimeout, "no preface arrived in time") : .none
    }

    /// Time to check the peer is alive: ping, or give up if the last ping went unanswered.
    mutating func keepaliveTimerFired() -> Action {
        switch state {
        case .active, .draining:
            if outstandingPing != nil {
                return fail(.keepaliveTimeout, "the client did not answer a ping")
            }
            let data = nextPingData
            nextPingData &+= 1
            outstandingPing = data
            return .sendPing(data)
        case .awaitingPreface, .closed:
            return .none
        }
    }

    /// Graceful shutdown: announce the last call that will run; close once those finish.
    mutating func beginShutdown() -> Action {
        switch state {
        case .awaitingPreface:
            state = .closed
            return .close
        case .active:
            let goAway = GoAwayFrame(lastCallID: lastCallID, reason: .noError, message: "the server is shutting down")
            if calls.isEmpty {
                state = .closed
                return .sendGoAwayAndClose(goAway)
            }
            state = .draining(lastCallID: lastCallID)
            return .sendGoAway(goAway)
        case .draining, .closed:
            return .none
        }
    }

    /// The socket closed: every running call is cancelled.
    mutating func channelClosed() -> [UInt64] {
        state = .closed
        let running = calls.filter { $0.value == .running }.map(\.key)
        for id in running { calls[id] = .settled }
        return running
    }

    private mutating func fail(_ reason: GoAwayFrame.Reason, _ message: String) -> Action {
        guard state != .closed else { return .none }
        state = .closed
        return .sendGoAwayAndClose(GoAwayFrame(lastCallID: lastCallID, reason: reason, message: message))
    }
}
