@testable import APIKeysWire
import Testing

/// What a GoAway action says, without its human-readable message.
struct GoAwaySummary: Equatable, CustomStringConvertible {
    var reason: GoAwayFrame.Reason
    var lastCallID: UInt64
    var closes: Bool

    var description: String { "GoAway(\(reason), last \(lastCallID), close \(closes))" }
}

extension ServerConnectionStateMachine.Action {
    var goAway: GoAwaySummary? {
        switch self {
        case .sendGoAway(let g): GoAwaySummary(reason: g.reason, lastCallID: g.lastCallID, closes: false)
        case .sendGoAwayAndClose(let g): GoAwaySummary(reason: g.reason, lastCallID: g.lastCallID, closes: true)
        default: nil
        }
    }

    /// The code of a reject or answerAndCancel action.
    var rejection: (callID: UInt64, code: StatusCode)? {
        switch self {
        case .reject(let id, let error): (id, error.code)
        case .answerAndCancel(let id, let error): (id, error.code)
        default: nil
        }
    }
}

@Suite("ServerConnectionStateMachine")
struct ServerConnectionStateMachineTests {
    typealias Machine = ServerConnectionStateMachine

    static func request(_ id: UInt64) -> RequestFrame { RequestFrame(callID: id, method: "/a.B/C") }

    /// A machine past the preface, with a limit of `limit` calls.
    static func active(limit: Int = 2) -> Machine {
        var machine = Machine(limits: .init(maxConcurrentCalls: limit))
        _ = machine.receivedPreface()
        return machine
    }

    /// Finishes call `id` and reports its response written.
    static func answer(_ id: UInt64, in machine: inout Machine) {
        #expect(machine.callFinished(callID: id) == .sendResponse)
        _ = machine.written(bytes: 100, response: id)
    }

    /// An active machine with calls `ids` started.
    static func running(_ ids: [UInt64], limit: Int = 2) -> Machine {
        var machine = active(limit: limit)
        for id in ids { _ = machine.received(.request(request(id))) }
        return machine
    }

    // MARK: - preface

    @Test("the preface is answered with settings")
    func prefaceSendsSettings() {
        var machine = Machine(limits: .init(maxConcurrentCalls: 2))
        #expect(machine.receivedPreface() == .sendSettings)
        #expect(machine.state == .active)
    }

    @Test("a second preface event does nothing")
    func secondPreface() {
        var machine = Self.active()
        #expect(machine.receivedPreface() == .none)
    }

    @Test("a frame before the preface is a protocol error that closes", arguments: [
        Frame.request(request(1)), .ping(1), .pong(1), .cancel(callID: 1),
        .goAway(GoAwayFrame(lastCallID: 0, reason: .noError, message: "")),
    ])
    func frameBeforePreface(frame: Frame) {
        var machine = Machine(limits: .init(maxConcurrentCalls: 2))
        #expect(machine.received(frame).goAway == GoAwaySummary(reason: .protocolError, lastCallID: 0, closes: true))
        #expect(machine.state == .closed)
    }

    // MARK: - call IDs

    @Test("a first request starts its call")
    func firstRequestStarts() {
        var machine = Self.active()
        #expect(machine.received(.request(Self.request(1))) == .startCall(Self.request(1)))
        #expect(machine.callsInFlight == 1)
    }

    @Test("call IDs may skip values")
    func callIDsMaySkip() {
        var machine = Self.running([1])
        #expect(machine.received(.request(Self.request(10))) == .startCall(Self.request(10)))
    }

    @Test("call ID 0 is a protocol error")
    func callIDZero() {
        var machine = Self.active()
        #expect(machine.received(.request(Self.request(0))).goAway == GoAwaySummary(reason: .protocolError, lastCallID: 0, closes: true))
    }

    @Test("an equal call ID is a protocol error that closes")
    func equalCallID() {
        var machine = Self.running([5])
        #expect(machine.received(.request(Self.request(5))).goAway == GoAwaySummary(reason: .protocolError, lastCallID: 5, closes: true))
        #expect(machine.state == .closed)
    }

    @Test("a lower call ID is a protocol error, even after its call finished")
    func lowerCallID() {
        var machine = Self.running([5])
        _ = machine.callFinished(callID: 5)
        #expect(machine.received(.request(Self.request(4))).goAway == GoAwaySummary(reason: .protocolError, lastCallID: 5, closes: true))
    }

    @Test("a rejected call ID is used up too")
    func rejectedCallIDUsedUp() {
        var machine = Self.running([1, 2])
        _ = machine.received(.request(Self.request(3)))  // rejected: limit
        #expect(machine.received(.request(Self.request(3))).goAway?.reason == .protocolError)
    }

    @Test("after a protocol error the machine ignores everything")
    func closedIgnoresFrames() {
        var machine = Self.running([5])
        _ = machine.received(.request(Self.request(5)))
        #expect(machine.received(.request(Self.request(6))) == .none)
        #expect(machine.received(.ping(1)) == .none)
        #expect(machine.decodingFailed(WireError(code: .malformedFrame, message: "")) == .none)
        #expect(machine.keepaliveTimerFired() == .none)
        #expect(machine.idleTimeoutPassed() == .none)
        #expect(machine.beginShutdown() == .none)
    }

    // MARK: - concurrency limit

    @Test("a request over the limit is rejected with RESOURCE_EXHAUSTED and not started")
    func overLimit() {
        var machine = Self.running([1, 2])
        let action = machine.received(.request(Self.request(3)))
        #expect(action.rejection?.callID == 3)
        #expect(action.rejection?.code == .resourceExhausted)
        #expect(machine.callsInFlight == 2)
        #expect(machine.state == .active)
    }

    @Test("a finished call answers and frees its slot once its response is written")
    func finishFreesSlot() {
        var machine = Self.running([1, 2])
        _ = machine.received(.request(Self.request(3)))
        #expect(machine.callFinished(callID: 1) == .sendResponse)
        #expect(machine.callsInFlight == 1)
        #expect(machine.received(.request(Self.request(4))).rejection?.code == .resourceExhausted)
        #expect(machine.written(bytes: 100, response: 1) == .none)
        #expect(machine.received(.request(Self.request(5))) == .startCall(Self.request(5)))
    }

    @Test("finishing an unknown call does nothing")
    func finishUnknown() {
        var machine = Self.running([1])
        #expect(machine.callFinished(callID: 9) == .none)
        #expect(machine.callsInFlight == 1)
    }

    // MARK: - cancel

    @Test("a cancel of a running call cancels it")
    func cancelRunning() {
        var machine = Self.running([1])
        #expect(machine.received(.cancel(callID: 1)) == .cancelCall(callID: 1))
    }

    @Test("the result of a cancelled call is dropped")
    func cancelledResultDropped() {
        var machine = Self.running([1])
        _ = machine.received(.cancel(callID: 1))
        #expect(machine.callFinished(callID: 1) == .dropResponse(close: false))
        #expect(machine.callsInFlight == 0)
    }

    @Test("a cancel of an unknown, finished or already cancelled call is ignored")
    func cancelIgnored() {
        var machine = Self.running([1, 2])
        #expect(machine.received(.cancel(callID: 7)) == .none)
        _ = machine.callFinished(callID: 1)
        #expect(machine.received(.cancel(callID: 1)) == .none)
        _ = machine.received(.cancel(callID: 2))
        #expect(machine.received(.cancel(callID: 2)) == .none)
    }

    @Test("rapid reset: cancelled calls still running count toward the limit")
    func rapidReset() {
        var machine = Self.running([1, 2])
        _ = machine.received(.cancel(callID: 1))
        _ = machine.received(.cancel(callID: 2))
        #expect(machine.received(.request(Self.request(3))).rejection?.code == .resourceExhausted)
    }

    @Test("rapid reset: the slot frees only when the cancelled work stops")
    func rapidResetSlotFreed() {
        var machine = Self.running([1, 2])
        _ = machine.received(.cancel(callID: 1))
        _ = machine.received(.cancel(callID: 2))
        _ = machine.callFinished(callID: 1)
        #expect(machine.received(.request(Self.request(3))) == .startCall(Self.request(3)))
    }

    // MARK: - deadlines

    @Test("a passed deadline answers DEADLINE_EXCEEDED and cancels the work")
    func deadline() {
        var machine = Self.running([1])
        let action = machine.deadlinePassed(callID: 1)
        #expect(action.rejection?.callID == 1)
        #expect(action.rejection?.code == .deadlineExceeded)
        if case .answerAndCancel = action {} else { Issue.record("expected answerAndCancel, got \(action)") }
    }

    @Test("the result after a deadline is dropped")
    func resultAfterDeadlineDropped() {
        var machine = Self.running([1])
        _ = machine.deadlinePassed(callID: 1)
        #expect(machine.callFinished(callID: 1) == .dropResponse(close: false))
    }

    @Test("a call past its deadline still counts toward the limit until it stops")
    func deadlineStillCounts() {
        var machine = Self.running([1, 2])
        _ = machine.deadlinePassed(callID: 1)
        #expect(machine.received(.request(Self.request(3))).rejection?.code == .resourceExhausted)
    }

    @Test("a deadline of a finished, cancelled or unknown call does nothing")
    func deadlineIgnored() {
        var machine = Self.running([1, 2])
        _ = machine.callFinished(callID: 1)
        #expect(machine.deadlinePassed(callID: 1) == .none)
        _ = machine.received(.cancel(callID: 2))
        #expect(machine.deadlinePassed(callID: 2) == .none)
        #expect(machine.deadlinePassed(callID: 99) == .none)
    }

    @Test("a cancel after the deadline answer does nothing")
    func cancelAfterDeadline() {
        var machine = Self.running([1])
        _ = machine.deadlinePassed(callID: 1)
        #expect(machine.received(.cancel(callID: 1)) == .none)
    }

    // MARK: - graceful shutdown

    @Test("shutdown with calls in flight sends GoAway with the last call ID and keeps the connection")
    func shutdownWithCalls() {
        var machine = Self.running([1, 2])
        #expect(machine.beginShutdown().goAway == GoAwaySummary(reason: .noError, lastCallID: 2, closes: false))
        #expect(machine.state == .draining(lastCallID: 2))
    }

    @Test("while draining, a later call ID is rejected UNAVAILABLE")
    func drainingRejectsLaterCalls() {
        var machine = Self.running([1, 2])
        _ = machine.beginShutdown()
        let action = machine.received(.request(Self.request(3)))
        #expect(action.rejection?.callID == 3)
        #expect(action.rejection?.code == .unavailable)
    }

    @Test("while draining, a call that finishes is answered")
    func drainingAnswers() {
        var machine = Self.running([1, 2])
        _ = machine.beginShutdown()
        #expect(machine.callFinished(callID: 1) == .sendResponse)
    }

    @Test("while draining, the connection closes once the last response is written")
    func drainingLastFinishCloses() {
        var machine = Self.running([1, 2])
        _ = machine.beginShutdown()
        Self.answer(1, in: &machine)
        #expect(machine.callFinished(callID: 2) == .sendResponse)
        #expect(machine.state == .draining(lastCallID: 2))
        #expect(machine.written(bytes: 100, response: 2) == .close)
        #expect(machine.state == .closed)
    }

    @Test("while draining, a response still unwritten keeps the connection open after the last call stops")
    func drainingWaitsForUnsentResponse() {
        var machine = Self.running([1, 2])
        _ = machine.beginShutdown()
        _ = machine.callFinished(callID: 1)
        _ = machine.received(.cancel(callID: 2))
        #expect(machine.callFinished(callID: 2) == .dropResponse(close: false))
        #expect(machine.written(bytes: 100, response: 1) == .close)
    }

    @Test("while draining, a cancelled last call closes the connection without an answer")
    func drainingCancelledLastCall() {
        var machine = Self.running([1])
        _ = machine.beginShutdown()
        _ = machine.received(.cancel(callID: 1))
        #expect(machine.callFinished(callID: 1) == .dropResponse(close: true))
    }

    @Test("while draining, pings are still answered")
    func drainingPing() {
        var machine = Self.running([1])
        _ = machine.beginShutdown()
        #expect(machine.received(.ping(5)) == .sendPong(5))
    }

    @Test("a second shutdown does nothing")
    func secondShutdown() {
        var machine = Self.running([1])
        _ = machine.beginShutdown()
        #expect(machine.beginShutdown() == .none)
    }

    @Test("shutdown with no call in flight sends GoAway and closes")
    func shutdownIdle() {
        var machine = Self.running([1, 2])
        Self.answer(1, in: &machine)
        Self.answer(2, in: &machine)
        #expect(machine.beginShutdown().goAway == GoAwaySummary(reason: .noError, lastCallID: 2, closes: true))
        #expect(machine.state == .closed)
    }

    @Test("shutdown before the preface just closes")
    func shutdownBeforePreface() {
        var machine = Machine(limits: .init(maxConcurrentCalls: 2))
        #expect(machine.beginShutdown() == .close)
    }

    // MARK: - idle and handshake

    @Test("idle with no call in flight: GoAway idleTimeout and close")
    func idleNoCalls() {
        var machine = Self.running([1])
        Self.answer(1, in: &machine)
        #expect(machine.idleTimeoutPassed().goAway == GoAwaySummary(reason: .idleTimeout, lastCallID: 1, closes: true))
    }

    @Test("idle with a call in flight: nothing")
    func idleWithCalls() {
        var machine = Self.running([1])
        #expect(machine.idleTimeoutPassed() == .none)
        #expect(machine.state == .active)
    }

    @Test("handshake timeout before the preface: GoAway handshakeTimeout and close")
    func handshakeTimeout() {
        var machine = Machine(limits: .init(maxConcurrentCalls: 2))
        #expect(machine.handshakeTimeoutPassed().goAway == GoAwaySummary(reason: .handshakeTimeout, lastCallID: 0, closes: true))
        #expect(machine.state == .closed)
    }

    @Test("handshake timeout after the preface: nothing")
    func handshakeTimeoutAfterPreface() {
        var machine = Self.active()
        #expect(machine.handshakeTimeoutPassed() == .none)
    }

    @Test("idle before the preface counts as a handshake timeout")
    func idleBeforePreface() {
        var machine = Machine(limits: .init(maxConcurrentCalls: 2))
        #expect(machine.idleTimeoutPassed().goAway?.reason == .handshakeTimeout)
    }

    // MARK: - keepalive

    @Test("the keepalive timer sends a ping")
    func keepalivePing() {
        var machine = Self.active()
        #expect(machine.keepaliveTimerFired() == .sendPing(1))
    }

    @Test("an unanswered ping: GoAway keepaliveTimeout and close")
    func keepaliveUnanswered() {
        var machine = Self.active()
        _ = machine.keepaliveTimerFired()
        #expect(machine.keepaliveTimerFired().goAway == GoAwaySummary(reason: .keepaliveTimeout, lastCallID: 0, closes: true))
    }

    @Test("an answered ping: the next timer sends a new ping")
    func keepaliveAnswered() {
        var machine = Self.active()
        _ = machine.keepaliveTimerFired()
        #expect(machine.received(.pong(1)) == .none)
        #expect(machine.keepaliveTimerFired() == .sendPing(2))
    }

    @Test("a pong with other data does not answer the ping")
    func keepaliveWrongPong() {
        var machine = Self.active()
        _ = machine.keepaliveTimerFired()
        _ = machine.received(.pong(77))
        #expect(machine.keepaliveTimerFired().goAway?.reason == .keepaliveTimeout)
    }

    @Test("keepalive before the preface does nothing")
    func keepaliveBeforePreface() {
        var machine = Machine(limits: .init(maxConcurrentCalls: 2))
        #expect(machine.keepaliveTimerFired() == .none)
    }

    @Test("a client ping is answered with a pong of the same data")
    func clientPing() {
        var machine = Self.active()
        #expect(machine.received(.ping(0xABCD)) == .sendPong(0xABCD))
    }

    // MARK: - client GoAway

    @Test("client GoAway with no call in flight closes")
    func clientGoAwayIdle() {
        var machine = Self.active()
        #expect(machine.received(.goAway(GoAwayFrame(lastCallID: 0, reason: .noError, message: ""))) == .close)
        #expect(machine.state == .closed)
    }

    @Test("client GoAway with calls in flight: they finish, then close")
    func clientGoAwayWithCalls() {
        var machine = Self.running([1])
        #expect(machine.received(.goAway(GoAwayFrame(lastCallID: 1, reason: .noError, message: ""))) == .none)
        #expect(machine.callFinished(callID: 1) == .sendResponse)
        #expect(machine.written(bytes: 100, response: 1) == .close)
    }

    // MARK: - frames a client may not send

    @Test("a response from the client is a protocol error that closes")
    func responseFromClient() {
        var machine = Self.running([1])
        #expect(machine.received(.response(ResponseFrame(callID: 1))).goAway == GoAwaySummary(reason: .protocolError, lastCallID: 1, closes: true))
    }

    @Test("settings from the client is a protocol error that closes")
    func settingsFromClient() {
        var machine = Self.active()
        let settings = ServerSettings(maxFrameSize: 1, maxConcurrentCalls: 1, idleTimeoutMillis: 1, keepaliveIntervalMillis: 1, server: "")
        #expect(machine.received(.settings(settings)).goAway == GoAwaySummary(reason: .protocolError, lastCallID: 0, closes: true))
    }

    // MARK: - decoding failures

    @Test("decoding failures map to GoAway reasons", arguments: [
        (WireError.Code.frameTooLarge, GoAwayFrame.Reason.frameTooLarge),
        (.unsupportedVersion, .unsupportedVersion),
        (.badPreface, .protocolError),
        (.malformedFrame, .protocolError),
        (.messageTooComplex, .protocolError),
    ])
    func decodingFailed(code: WireError.Code, reason: GoAwayFrame.Reason) {
        var machine = Self.running([3])
        let action = machine.decodingFailed(WireError(code: code, message: "what went wrong"))
        #expect(action.goAway == GoAwaySummary(reason: reason, lastCallID: 3, closes: true))
        if case .sendGoAwayAndClose(let g) = action { #expect(g.message == "what went wrong") }
    }

    @Test("a bad preface before any frame: GoAway protocolError with last call 0")
    func badPreface() {
        var machine = Machine(limits: .init(maxConcurrentCalls: 2))
        #expect(machine.decodingFailed(WireError(code: .badPreface, message: "")).goAway == GoAwaySummary(reason: .protocolError, lastCallID: 0, closes: true))
    }

    // MARK: - socket closed

    @Test("closing the socket cancels the running calls only")
    func channelClosed() {
        var machine = Self.running([1, 2, 3], limit: 3)
        _ = machine.received(.cancel(callID: 2))
        #expect(machine.channelClosed().sorted() == [1, 3])
        #expect(machine.callFinished(callID: 1) == .dropResponse(close: false))
    }
}
