import NIOCore

/// The server side of one connection, as a pure state machine: the channel handler
/// feeds it events and performs the actions it returns. It owns the protocol's rules
/// (preface first, increasing call IDs, the concurrency limit, cancellation, deadlines,
/// keepalive, idle, graceful shutdown and backpressure); it touches no socket and no clock.
///
/// Backpressure: the handler reports every frame it queues for the socket (`queued`) and
/// every frame the socket has taken (`written`). When the unwritten output reaches
/// `maxUnwrittenBytes` the machine stops reading (`readingPaused`); frames the handler had
/// already read wait, in order, until half of that output has drained (`resumeReading`).
/// A call counts toward `maxConcurrentCalls` until its response is written, so a client
/// that does not read cannot free slots by letting responses pile up.
///
/// Pausing alone does not bound memory: calls started before the pause (up to
/// `maxConcurrentCalls` of them) finish afterwards. So a finished call's response that would
/// take the connection's unwritten output above `maxQueuedBytes` (twice the bound), or the
/// whole server's above `maxServerUnwrittenBytes`, is not queued: the call is answered with
/// a short RESOURCE_EXHAUSTED instead (`replaceResponse`) and the large buffer is freed.
struct ServerConnectionStateMachine {
    struct Limits: Sendable {
        var maxConcurrentCalls: Int
        /// Unwritten output, in bytes (`outputCost`), at which the connection stops reading.
        var maxUnwrittenBytes: Int = .max
        /// Unwritten output of every connection of the server together (`outputCost`) past
        /// which a large response is replaced by a short status.
        var maxServerUnwrittenBytes: Int = .max

        /// Unwritten output past which this connection's large responses are replaced by a
        /// short status: twice the bound, so a client that reads is never near it.
        var maxQueuedBytes: Int {
            maxUnwrittenBytes > Int.max / 2 ? .max : 2 * maxUnwrittenBytes
        }
    }

    /// Responses of at most this many bytes (encoded) are always queued: replacing them
    /// would save nothing, and small answers (Verify) keep working under memory pressure.
    /// They are bounded anyway, by `maxConcurrentCalls` per connection.
    static let alwaysQueuedResponseBytes = 1024

    /// What one queued frame costs toward `maxUnwrittenBytes`: its size plus the server's
    /// bookkeeping for it (buffer, pending write, promise), so a flood of tiny answers is
    /// bounded in memory as well as in bytes.
    static func outputCost(frameBytes: Int) -> Int { frameBytes + perFrameOverhead }
    static let perFrameOverhead = 512

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
        /// Write the call's response; the call counts toward the limit until it is written.
        case sendResponse
        /// Write this short status as the call's response instead of its result: the result
        /// would take the unwritten output over a limit. Counts toward the limit like a response.
        case replaceResponse(RPCError)
        case dropResponse(close: Bool)
        /// Output has drained below the bound: read again, starting with the frames held
        /// while paused (`nextHeldFrame`).
        case resumeReading
        case sendPong(UInt64)
        case sendPing(UInt64)
        case sendGoAway(GoAwayFrame)
        case sendGoAwayAndClose(GoAwayFrame)
        case close
    }

    private(set) var state: State = .awaitingPreface
    private(set) var calls: [UInt64: CallState] = [:]
    private(set) var lastCallID: UInt64 = 0
    /// Answered calls whose response the socket has not taken yet.
    private(set) var unsentResponses: Set<UInt64> = []
    /// Output queued for the socket and not yet written, as `outputCost`.
    private(set) var unwrittenBytes = 0
    /// Unwritten output reached the bound: the handler must not read.
    private(set) var readingPaused = false
    /// Frames read before reading stopped, waiting for the output to drain.
    private var held = CircularBuffer<Frame>()
    private var outstandingPing: UInt64?
    private var nextPingData: UInt64 = 1
    private let limits: Limits

    init(limits: Limits) {
        self.limits = limits
    }

    var callsInFlight: Int { calls.count }

    /// Frames waiting while reading is paused.
    var heldFrames: Int { held.count }

    /// A request now would be refused for the limit.
    var atCallLimit: Bool { calls.count + unsentResponses.count >= limits.maxConcurrentCalls }

    /// No call running and no response waiting for the socket.
    private var nothingInFlight: Bool { calls.isEmpty && unsentResponses.isEmpty }

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
        // Behind held frames too, so frames are handled in the order they came.
        if readingPaused || !held.isEmpty {
            held.append(frame)
            return .none
        }
        return process(frame)
    }

    /// The next frame held while reading was paused, handled now; nil when none is left
    /// or reading has paused again. The handler calls it after `resumeReading` until nil.
    mutating func nextHeldFrame() -> Action? {
        guard !readingPaused, state != .closed, let frame = held.popFirst() else { return nil }
        return process(frame)
    }

    private mutating func process(_ frame: Frame) -> Action {
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
            if nothingInFlight {
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
        // Unsent responses count: a call is done for the limit when the client could read it.
        guard !atCallLimit else {
            return .reject(callID: request.callID, RPCError(
                code: .resourceExhausted,
                message: "at most \(limits.maxConcurrentCalls) calls may be in flight on one connection, answers not yet read included"))
        }
        calls[request.callID] = .running
        return .startCall(request)
    }

    mutating func deadlinePassed(callID: UInt64) -> Action {
        guard calls[callID] == .running else { return .none }
        calls[callID] = .settled
        return .answerAndCancel(callID: callID, RPCError(code: .deadlineExceeded, message: "the call's deadline passed before it finished"))
    }

    /// A call's work returned with a response frame of `responseBytes` (encoded), while the
    /// server's connections hold `serverUnwrittenBytes` of unwritten output together. A
    /// dropped result frees its slot now; a response (or its replacement) frees it when
    /// written (`written(bytes:response:)`).
    mutating func callFinished(callID: UInt64, responseBytes: Int = 0, serverUnwrittenBytes: Int = 0) -> Action {
        guard let call = calls.removeValue(forKey: callID) else { return .none }
        guard call == .running else { return .dropResponse(close: closeIfDrained()) }
        unsentResponses.insert(callID)
        guard responseBytes > Self.alwaysQueuedResponseBytes else { return .sendResponse }
        let cost = Self.outputCost(frameBytes: responseBytes)
        // A connection with nothing waiting may always queue one response, however large
        // (at most the maximum frame size): a client that reads must get its answer.
        if unwrittenBytes > 0, cost > limits.maxQueuedBytes - unwrittenBytes {
            return .replaceResponse(RPCError(code: .resourceExhausted, message:
                "the response (\(responseBytes) bytes) was dropped: the client has left \(unwrittenBytes) bytes of earlier responses unread; read your responses"))
        }
        if cost > limits.maxServerUnwrittenBytes - serverUnwrittenBytes {
            return .replaceResponse(RPCError(code: .resourceExhausted, message:
                "the response (\(responseBytes) bytes) was dropped: the server holds \(serverUnwrittenBytes) bytes of responses its clients have not read; retry later"))
        }
        return .sendResponse
    }

    /// The handler queued a frame of `bytes` (encoded) for the socket.
    mutating func queued(bytes: Int) {
        unwrittenBytes += Self.outputCost(frameBytes: bytes)
        if unwrittenBytes >= limits.maxUnwrittenBytes, state != .closed {
            readingPaused = true
        }
    }

    /// The socket took a frame of `bytes` queued earlier, the response to `callID` if it
    /// was one (or the write failed: the bytes are gone either way).
    mutating func written(bytes: Int, response callID: UInt64?) -> Action {
        unwrittenBytes -= Self.outputCost(frameBytes: bytes)
        if let callID { unsentResponses.remove(callID) }
        if closeIfDrained() { return .close }
        // Half the bound of hysteresis, so a reader at the limit does not flip per frame.
        if readingPaused, unwrittenBytes <= limits.maxUnwrittenBytes / 2, state != .closed {
            readingPaused = false
            return .resumeReading
        }
        return .none
    }

    /// While draining, the connection closes once no call runs and every response is written.
    private mutating func closeIfDrained() -> Bool {
        guard case .draining = state, nothingInFlight else { return false }
        state = .closed
        held.removeAll()
        return true
    }

    /// The connection saw no frame for the idle timeout.
    mutating func idleTimeoutPassed() -> Action {
        switch state {
        case .awaitingPreface:
            return fail(.handshakeTimeout, "no preface arrived in time")
        case .active, .draining:
            // A paused connection is not idle: its client has output to read (see `readerStalled`).
            return nothingInFlight && !readingPaused ? fail(.idleTimeout, "the connection was idle too long") : .none
        case .closed:
            return .none
        }
    }

    /// Output is waiting and the client has taken none of it for the idle timeout: it does
    /// not read at all. Slow readers that take some output keep their connection.
    mutating func readerStalled() -> Action {
        guard unwrittenBytes > 0 else { return .none }
        return fail(.idleTimeout, "the client read none of the server's output for the idle timeout")
    }

    mutating func handshakeTimeoutPassed() -> Action {
        state == .awaitingPreface ? fail(.handshakeTimeout, "no preface arrived in time") : .none
    }

    /// Time to check the peer is alive: ping, or give up if the last ping went unanswered.
    mutating func keepaliveTimerFired() -> Action {
        switch state {
        case .active, .draining:
            // A ping queued behind output the client has not read (and, when paused, a pong
            // the server is not reading) would judge a slow reader dead; `readerStalled`
            // judges a client with output waiting instead.
            if unwrittenBytes > 0 { return .none }
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
            if nothingInFlight {
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
        held.removeAll()
        let running = calls.filter { $0.value == .running }.map(\.key)
        for id in running { calls[id] = .settled }
        return running
    }

    private mutating func fail(_ reason: GoAwayFrame.Reason, _ message: String) -> Action {
        guard state != .closed else { return .none }
        state = .closed
        held.removeAll()
        return .sendGoAwayAndClose(GoAwayFrame(lastCallID: lastCallID, reason: reason, message: message))
    }
}
