@testable import APIKeysWire
import Testing

/// Backpressure in the connection machine: unwritten output stops reading, frames read
/// meanwhile wait in order, unsent responses hold their call's slot, and the timers treat
/// a paused connection by what its client reads.
@Suite("ServerConnectionStateMachine backpressure")
struct ServerConnectionStateMachineBackpressureTests {
    typealias Machine = ServerConnectionStateMachine
    static let overhead = Machine.perFrameOverhead

    static func request(_ id: UInt64) -> RequestFrame { RequestFrame(callID: id, method: "/a.B/C") }

    /// Past the preface, with room for `bound` bytes of unwritten output.
    static func active(limit: Int = 4, bound: Int = 10_000) -> Machine {
        var machine = Machine(limits: .init(maxConcurrentCalls: limit, maxUnwrittenBytes: bound))
        _ = machine.receivedPreface()
        return machine
    }

    /// Paused by one frame of exactly the bound.
    static func paused(limit: Int = 4, bound: Int = 10_000) -> Machine {
        var machine = active(limit: limit, bound: bound)
        machine.queued(bytes: bound - overhead)
        return machine
    }

    // MARK: - pausing

    @Test("output below the bound: reading goes on")
    func belowBound() {
        var machine = Self.active()
        machine.queued(bytes: 10_000 - Self.overhead - 1)
        #expect(!machine.readingPaused)
        #expect(machine.unwrittenBytes == 9_999)
    }

    @Test("output reaching the bound pauses reading")
    func reachingBoundPauses() {
        var machine = Self.active()
        machine.queued(bytes: 10_000 - Self.overhead)
        #expect(machine.readingPaused)
    }

    @Test("each frame counts its bookkeeping too: many tiny frames pause reading")
    func tinyFramesPause() {
        var machine = Self.active(bound: 20 * Self.overhead)
        for _ in 0..<19 { machine.queued(bytes: 1) }
        #expect(!machine.readingPaused)
        machine.queued(bytes: 1)
        #expect(machine.readingPaused)
    }

    // MARK: - held frames

    @Test("a request read while paused is held, not started")
    func requestHeld() {
        var machine = Self.paused()
        #expect(machine.received(.request(Self.request(1))) == .none)
        #expect(machine.callsInFlight == 0)
        #expect(machine.heldFrames == 1)
    }

    @Test("a ping read while paused is held, not answered")
    func pingHeld() {
        var machine = Self.paused()
        #expect(machine.received(.ping(7)) == .none)
        #expect(machine.heldFrames == 1)
    }

    @Test("a protocol error in a held frame waits with it")
    func protocolErrorHeld() {
        var machine = Self.paused()
        _ = machine.received(.request(Self.request(5)))
        #expect(machine.received(.request(Self.request(5))) == .none)
        #expect(machine.state == .active)
    }

    // MARK: - resuming

    @Test("output drained to above half the bound: still paused")
    func partialDrainStaysPaused() {
        var machine = Self.active()
        machine.queued(bytes: 5_000 - Self.overhead)
        machine.queued(bytes: 5_000 - Self.overhead)
        machine.queued(bytes: 1_000 - Self.overhead)
        #expect(machine.written(bytes: 5_000 - Self.overhead, response: nil) == .none)
        #expect(machine.readingPaused)
    }

    @Test("output drained to half the bound resumes reading")
    func drainResumes() {
        var machine = Self.active()
        machine.queued(bytes: 5_000 - Self.overhead)
        machine.queued(bytes: 5_000 - Self.overhead)
        #expect(machine.written(bytes: 5_000 - Self.overhead, response: nil) == .resumeReading)
        #expect(!machine.readingPaused)
    }

    @Test("a failed write releases its bytes like a written one")
    func failedWriteReleases() {
        var machine = Self.paused()
        #expect(machine.written(bytes: 10_000 - Self.overhead, response: nil) == .resumeReading)
        #expect(machine.unwrittenBytes == 0)
    }

    @Test("after resuming, held frames are handled in the order they came")
    func heldInOrder() {
        var machine = Self.paused()
        _ = machine.received(.request(Self.request(1)))
        _ = machine.received(.ping(9))
        _ = machine.received(.cancel(callID: 1))
        _ = machine.written(bytes: 10_000 - Self.overhead, response: nil)
        #expect(machine.nextHeldFrame() == .startCall(Self.request(1)))
        #expect(machine.nextHeldFrame() == .sendPong(9))
        #expect(machine.nextHeldFrame() == .cancelCall(callID: 1))
        #expect(machine.nextHeldFrame() == nil)
    }

    @Test("while paused there is no held frame to take")
    func noHeldFrameWhilePaused() {
        var machine = Self.paused()
        _ = machine.received(.ping(1))
        #expect(machine.nextHeldFrame() == nil)
        #expect(machine.heldFrames == 1)
    }

    @Test("a frame read while held frames wait goes behind them")
    func newFrameBehindHeld() {
        var machine = Self.paused()
        _ = machine.received(.request(Self.request(1)))
        _ = machine.written(bytes: 10_000 - Self.overhead, response: nil)
        #expect(machine.received(.request(Self.request(2))) == .none)
        #expect(machine.nextHeldFrame() == .startCall(Self.request(1)))
        #expect(machine.nextHeldFrame() == .startCall(Self.request(2)))
    }

    @Test("output queued while taking held frames pauses again and keeps the rest")
    func pauseAgainMidway() {
        var machine = Self.paused()
        _ = machine.received(.request(Self.request(1)))
        _ = machine.received(.request(Self.request(2)))
        _ = machine.written(bytes: 10_000 - Self.overhead, response: nil)
        _ = machine.nextHeldFrame()
        machine.queued(bytes: 10_000)
        #expect(machine.nextHeldFrame() == nil)
        #expect(machine.heldFrames == 1)
    }

    // MARK: - unsent responses and the limit

    @Test("responses the client has not read hold their slots: a new call is refused")
    func unsentResponsesHoldSlots() {
        var machine = Self.active(limit: 2)
        _ = machine.received(.request(Self.request(1)))
        _ = machine.received(.request(Self.request(2)))
        _ = machine.callFinished(callID: 1)
        _ = machine.callFinished(callID: 2)
        #expect(machine.callsInFlight == 0)
        #expect(machine.received(.request(Self.request(3))).rejection?.code == .resourceExhausted)
    }

    @Test("a written response frees its slot")
    func writtenResponseFreesSlot() {
        var machine = Self.active(limit: 1)
        _ = machine.received(.request(Self.request(1)))
        _ = machine.callFinished(callID: 1)
        _ = machine.written(bytes: 100, response: 1)
        #expect(machine.received(.request(Self.request(2))) == .startCall(Self.request(2)))
    }

    // MARK: - responses over the hard limit

    /// The machine's replacement for a call's response, if it replaced it.
    static func replacement(_ action: Machine.Action) -> RPCError? {
        if case .replaceResponse(let error) = action { return error } else { return nil }
    }

    /// `count` calls started (before any output), as a client that sends a burst gets them.
    static func started(_ count: Int, limit: Int = 100, bound: Int = 10_000, serverBound: Int = .max) -> Machine {
        var machine = Machine(limits: .init(maxConcurrentCalls: limit, maxUnwrittenBytes: bound, maxServerUnwrittenBytes: serverBound))
        _ = machine.receivedPreface()
        for id in 1...UInt64(count) {
            #expect(machine.received(.request(Self.request(id))) == .startCall(Self.request(id)))
        }
        return machine
    }

    @Test("the review's burst: 100 calls started, then 100 large answers; those past twice the bound are replaced")
    func burstOfLargeAnswersIsBounded() {
        var machine = Self.started(100)
        var sent = 0
        for id in 1...UInt64(100) {
            let action = machine.callFinished(callID: id, responseBytes: 4_000)
            if let error = Self.replacement(action) {
                #expect(error.code == .resourceExhausted)
                #expect(error.message.contains("read your responses"))
                let small = FrameCodec.encodedSize(.response(ResponseFrame(callID: id, error: error)))
                #expect(small < Machine.alwaysQueuedResponseBytes)
                machine.queued(bytes: small)
            } else {
                #expect(action == .sendResponse)
                machine.queued(bytes: 4_000)
                sent += 1
            }
        }
        // 4 answers of 4,512 fit in 20,000; the fifth would not.
        #expect(sent == 4)
        #expect(machine.unsentResponses.count == 100)
        // Full answers under twice the bound, plus 96 short statuses.
        #expect(machine.unwrittenBytes <= 20_000 + 96 * (Machine.alwaysQueuedResponseBytes + Self.overhead))
    }

    @Test("a response that fits under twice the bound is queued, though reading is paused")
    func fitsUnderHardLimit() {
        var machine = Self.started(2)
        machine.queued(bytes: 10_000 - Self.overhead)
        #expect(machine.readingPaused)
        #expect(machine.callFinished(callID: 1, responseBytes: 10_000 - Self.overhead) == .sendResponse)
    }

    @Test("one byte over twice the bound: the response is replaced")
    func oneByteOver() {
        var machine = Self.started(2)
        machine.queued(bytes: 10_000 - Self.overhead)
        let action = machine.callFinished(callID: 1, responseBytes: 10_000 - Self.overhead + 1)
        #expect(Self.replacement(action)?.message.contains("left 10000 bytes of earlier responses unread") == true)
    }

    @Test("a connection with nothing unwritten always queues its response, even one larger than twice the bound")
    func emptyConnectionSendsAnything() {
        var machine = Self.started(1)
        #expect(machine.callFinished(callID: 1, responseBytes: 1_000_000) == .sendResponse)
    }

    @Test("small responses are never replaced: they save nothing")
    func smallResponsesAlwaysQueued() {
        var machine = Self.started(2, serverBound: 0)
        machine.queued(bytes: 30_000)
        #expect(machine.callFinished(callID: 1, responseBytes: Machine.alwaysQueuedResponseBytes) == .sendResponse)
        #expect(machine.callFinished(callID: 2, responseBytes: Machine.alwaysQueuedResponseBytes + 1) != .sendResponse)
    }

    @Test("a replaced response still holds its call's slot until written")
    func replacedHoldsSlot() {
        var machine = Self.started(2, limit: 2)
        machine.queued(bytes: 20_000)
        #expect(Self.replacement(machine.callFinished(callID: 1, responseBytes: 5_000)) != nil)
        #expect(machine.unsentResponses == [1])
        // Call 2 runs and call 1's status waits (reading is paused too: the output is over the bound).
        #expect(machine.atCallLimit)
    }

    @Test("a cancelled call's result is dropped, not replaced")
    func cancelledDropped() {
        var machine = Self.started(1)
        _ = machine.received(.cancel(callID: 1))
        machine.queued(bytes: 20_000)
        #expect(machine.callFinished(callID: 1, responseBytes: 50_000) == .dropResponse(close: false))
    }

    @Test("the server-wide bound: past it a large response is replaced even on an empty connection")
    func serverBound() {
        var machine = Self.started(3, serverBound: 1_000_000)
        #expect(machine.callFinished(callID: 1, responseBytes: 5_000, serverUnwrittenBytes: 1_000_000 - 5_000 - Self.overhead) == .sendResponse)
        let action = machine.callFinished(callID: 2, responseBytes: 5_000, serverUnwrittenBytes: 1_000_000 - 5_000 - Self.overhead + 1)
        #expect(Self.replacement(action)?.code == .resourceExhausted)
        #expect(Self.replacement(action)?.message.contains("retry later") == true)
        // Small answers go through whatever the server holds.
        #expect(machine.callFinished(callID: 3, responseBytes: 100, serverUnwrittenBytes: .max / 2) == .sendResponse)
    }

    // MARK: - timers

    @Test("idle: a paused connection is not idle, even with no call")
    func pausedNotIdle() {
        var machine = Self.paused()
        #expect(machine.idleTimeoutPassed() == .none)
    }

    @Test("a paused connection whose client read nothing for the idle timeout: GoAway idleTimeout and close")
    func stalledReaderClosed() {
        var machine = Self.paused()
        _ = machine.received(.request(Self.request(1)))
        let action = machine.readerStalled()
        if case .sendGoAwayAndClose(let goAway) = action {
            #expect(goAway.reason == .idleTimeout)
            #expect(goAway.lastCallID == 0)
        } else {
            Issue.record("expected a GoAway and close, got \(action)")
        }
        #expect(machine.heldFrames == 0)
    }

    @Test("a reader stall with output waiting below the bound closes too")
    func stallBelowBound() {
        var machine = Self.active()
        machine.queued(bytes: 100)
        #expect(machine.readerStalled().goAway == GoAwaySummary(reason: .idleTimeout, lastCallID: 0, closes: true))
    }

    @Test("a reader stall with no output waiting does nothing (keepalive covers that client)")
    func stallWithoutOutputIgnored() {
        var machine = Self.active()
        machine.queued(bytes: 100)
        _ = machine.written(bytes: 100, response: nil)
        #expect(machine.readerStalled() == .none)
    }

    @Test("keepalive does not ping a paused connection")
    func keepaliveSkipsPaused() {
        var machine = Self.paused()
        #expect(machine.keepaliveTimerFired() == .none)
    }

    @Test("keepalive does not ping while any output waits: the ping would queue behind it")
    func keepaliveSkipsWaitingOutput() {
        var machine = Self.active()
        machine.queued(bytes: 100)
        #expect(machine.keepaliveTimerFired() == .none)
        _ = machine.written(bytes: 100, response: nil)
        #expect(machine.keepaliveTimerFired() == .sendPing(1))
    }

    @Test("keepalive does not judge a ping unanswered while paused: its pong may be unread")
    func keepaliveOutstandingPingWhilePaused() {
        var machine = Self.active()
        #expect(machine.keepaliveTimerFired() == .sendPing(1))
        machine.queued(bytes: 10_000)
        #expect(machine.keepaliveTimerFired() == .none)
        #expect(machine.state == .active)
    }

    // MARK: - shutdown and close

    @Test("shutdown while requests are held: the GoAway's last call is the last started; held later ones are UNAVAILABLE")
    func shutdownWithHeldRequests() {
        var machine = Self.active()
        _ = machine.received(.request(Self.request(1)))
        machine.queued(bytes: 10_000)
        _ = machine.received(.request(Self.request(2)))
        if case .sendGoAway(let goAway) = machine.beginShutdown() {
            #expect(goAway.lastCallID == 1)
        } else {
            Issue.record("expected a GoAway")
        }
        _ = machine.written(bytes: 10_000, response: nil)
        #expect(machine.nextHeldFrame()?.rejection?.code == .unavailable)
    }

    @Test("closing the socket drops held frames")
    func closeDropsHeld() {
        var machine = Self.paused()
        _ = machine.received(.request(Self.request(1)))
        _ = machine.channelClosed()
        #expect(machine.heldFrames == 0)
        #expect(machine.written(bytes: 10_000 - Self.overhead, response: nil) == .none)
        #expect(machine.nextHeldFrame() == nil)
    }
}
