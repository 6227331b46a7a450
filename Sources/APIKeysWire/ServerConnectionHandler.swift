import NIOCore

/// The thin handler around `ServerConnectionStateMachine`: it turns channel events and
/// timers into state machine events and performs the returned actions. For backpressure it
/// tells the machine about every frame it writes and every write that completes, and holds
/// back `read()` while the machine says reading is paused.
final class ServerConnectionHandler: ChannelDuplexHandler {
    /// The connection's bytes, split into frames here rather than by a `ByteToMessageHandler`
    /// in front: a frame handed from one handler to the next is boxed in `NIOAny`, an
    /// allocation per call (issue 14, goal 3).
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    /// Frames are encoded here: small ones into a batch buffer per flush (at most
    /// `maxBatchBytes`), larger ones each into a buffer of its own size, so the bytes held are
    /// the bytes counted plus a batch's slack.
    typealias OutboundOut = ByteBuffer

    /// How long a closing connection waits, after its last frames, for the client to close
    /// its side (see `closeGracefully`): a client that reads nothing, or never closes, would
    /// otherwise hold the connection open forever.
    static let closeLinger = TimeAmount.seconds(2)

    private var machine: ServerConnectionStateMachine
    private var decoder: FrameDecoder
    /// The start of a frame whose end has not arrived yet (at most `maxFrameSize` and its
    /// prefix: the decoder refuses a longer declared length before buffering it).
    private var partialFrame: ByteBuffer?
    /// The input could not be decoded: the connection is closing, and what follows is dropped.
    private var inputFailed = false
    private var decoding = false
    private let router: RPCRouter
    private let configuration: RPCServerConfiguration
    private let observer: RPCServerObserver
    /// `host:port` of the client, for the observer.
    private var peer = "?"
    /// Start time and annotations of each call, kept only when the observer wants calls.
    private var calls: [UInt64: (started: ContinuousClock.Instant, method: String, annotations: CallAnnotations?)] = [:]
    /// The status the state machine answered a call with before its handler finished (deadline).
    private var answered: [UInt64: StatusCode] = [:]
    private var context: ChannelHandlerContext?
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    private var deadlineTimers: [UInt64: Scheduled<Void>] = [:]
    private var handshakeTimer: Scheduled<Void>?
    /// One repeating timer checks idleness and keepalive against the time of the last read,
    /// so reads never reschedule timers.
    private var tickTimer: RepeatedTask?
    /// Any frame: the peer is alive (keepalive).
    private var lastRead = NIODeadline.now()
    /// A write completed (the client is taking output), or output began to wait: the reader
    /// stall counts from here, and keepalive treats it as a sign of life.
    private var lastWritten = NIODeadline.now()
    /// `read()` arrived while reading was paused; issued when it resumes.
    private var readWithheld = false
    private var closeTimer: Scheduled<Void>?
    /// The last frames are written and the output half-closed: what the client still sends
    /// is read and dropped until it closes (`closeGracefully`).
    private var lingering = false
    /// A frame other than ping or pong, or a call finishing: the connection is in use (idle).
    private var lastUse = NIODeadline.now()
    private var lastPing = NIODeadline.distantPast
    private var needsFlush = false
    /// The handler of the last method called: a connection's calls mostly repeat one method,
    /// whose `String` the decoder reuses, so comparing is cheaper than hashing for the router.
    private var lastRoute: (method: String, handler: RPCRouter.Handler)?
    /// The last buffer of frames written, passed on when the next buffer starts or at the
    /// flush, with one promise that reports every frame in it (NIO completes writes in
    /// order): a promise and a callback per buffer instead of per frame. Small frames
    /// (`batchedFrameBytes`) are encoded one after another into one buffer, up to
    /// `maxBatchBytes`: for Verify, one buffer and one write per flush. A larger frame gets a
    /// buffer of its own size, so a batch never holds its capacity, and its promise reports
    /// it as soon as it is written, as before batching.
    private var heldBackFrames: ByteBuffer?
    private var heldBackIsBatch = false
    static let batchedFrameBytes = 4096
    static let maxBatchBytes = 64 * 1024
    /// Frames passed on or held and not yet reported written, oldest first; the last
    /// `unpromised` of them are the held buffer's, which has no promise yet.
    private var unreported = CircularBuffer<(bytes: Int, cost: Int, response: UInt64?)>(initialCapacity: 16)
    private var unpromised = 0
    /// How many frames each buffer passed on and not yet reported holds, oldest first.
    private var framesPerPromise = CircularBuffer<Int>(initialCapacity: 8)
    private var readingBatch = false
    /// Set once, after the TLS handshake, under mutual TLS.
    private var peerCertificateURIs: [String] = []
    /// Lent to every synchronous handler for its encoded answer (`RPCRouter.SyncHandler`).
    private var syncResponseBytes: [UInt8] = []

    /// Shared by the server's connections: the unwritten output of all of them.
    private let unwrittenOutput: UnwrittenOutput

    init(router: RPCRouter, configuration: RPCServerConfiguration, observer: RPCServerObserver = .init(),
         unwrittenOutput: UnwrittenOutput = UnwrittenOutput()) {
        self.router = router
        self.configuration = configuration
        self.observer = observer
        self.unwrittenOutput = unwrittenOutput
        self.decoder = FrameDecoder(expectPreface: true, maxFrameSize: configuration.connection.maxFrameSize)
        self.machine = ServerConnectionStateMachine(limits: .init(
            maxConcurrentCalls: configuration.connection.maxConcurrentCalls,
            maxUnwrittenBytes: configuration.connection.maxUnwrittenBytes,
            maxServerUnwrittenBytes: configuration.maxServerUnwrittenBytes))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let address = context.channel.remoteAddress {
            peer = "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
        observer.connectionOpened?(peer)
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        handshakeTimer = context.eventLoop.scheduleTask(in: .nanoseconds(configuration.connection.handshakeTimeout.nanoseconds)) {
            loopBound.value.perform(loopBound.value.machine.handshakeTimeoutPassed())
        }
        let c = configuration.connection
        let period = TimeAmount.nanoseconds(max(10_000_000, min(c.idleTimeout.nanoseconds, c.keepaliveInterval.nanoseconds) / 4))
        tickTimer = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            loopBound.value.tick()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partialFrame = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if lingering || inputFailed { return }
        readingBatch = true
        var buffer = unwrapInboundIn(data)
        if var partial = partialFrame {
            partialFrame = nil
            partial.writeBuffer(&buffer)
            buffer = partial
        }
        // Not re-entered: no handler ahead of this one delivers bytes while this loop runs
        // (a nested read would see `partialFrame` taken).
        assert(!decoding, "channelRead re-entered while splitting frames")
        decoding = true
        defer { decoding = false }
        var events = 0, used = false
        do {
            while !lingering, let event = try decoder.next(&buffer) {
                events += 1
                switch event {
                case .preface:
                    handshakeTimer?.cancel()
                    handshakeTimer = nil
                    perform(machine.receivedPreface())
                case .frame(let frame):
                    flushIfCallsWaitOnIt()
                    perform(machine.received(frame))
                    switch frame {
                    case .ping, .pong: break
                    default: used = true
                    }
                }
            }
        } catch {
            inputFailed = true
            decodingFailed(error)
            return
        }
        if buffer.readableBytes > 0, !lingering { keepPartialFrame(buffer, allocator: context.channel.allocator) }
        // Only whole frames are signs of life (keepalive): a client trickling one frame
        // forever is pinged, and closed when it does not answer.
        if events > 0 { lastRead = .now() }
        if used { lastUse = lastRead }
    }

    /// Keeps the start of the next frame without the frames before it, and in a buffer of
    /// its own size when the one it came in is far larger (a few bytes left after a 4 MiB
    /// frame must not hold 4 MiB).
    private func keepPartialFrame(_ buffer: ByteBuffer, allocator: ByteBufferAllocator) {
        var buffer = buffer
        if buffer.capacity > max(64 * 1024, 4 * buffer.readableBytes) {
            var own = allocator.buffer(capacity: buffer.readableBytes)
            own.writeBuffer(&buffer)
            partialFrame = own
        } else {
            buffer.discardReadBytes()
            partialFrame = buffer
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readingBatch = false
        flushIfNeeded()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // I/O and TLS errors (reset by peer): nothing to tell the client.
        context.close(promise: nil)
    }

    /// Tells the client why (GoAway) and closes.
    private func decodingFailed(_ error: WireError) {
        observer.protocolError?(peer, error)
        perform(machine.decodingFailed(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        for callID in machine.channelClosed() {
            tasks[callID]?.cancel()
        }
        // Frames no promise covers will never be reported: release them as failed writes.
        heldBackFrames = nil
        while unpromised > 0 {
            unpromised -= 1
            release(unreported.removeLast())
        }
        handshakeTimer?.cancel()
        tickTimer?.cancel()
        closeTimer?.cancel()
        for timer in deadlineTimers.values { timer.cancel() }
        deadlineTimers.removeAll()
        if readWithheld {
            readWithheld = false
            observer.readingPaused?(peer, false)
        }
        observer.connectionClosed?(peer)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ShutdownEvent {
            perform(machine.beginShutdown())
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            // The client closed its side (allowRemoteHalfClosure): as before that option, the
            // connection ends; while lingering, this is the end it waited for.
            context.close(promise: nil)
        } else if let event = event as? PeerCertificateEvent {
            peerCertificateURIs = event.uris
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Sent through the pipeline by `RPCServer` to start a graceful shutdown.
    struct ShutdownEvent {}

    // MARK: - backpressure

    /// A connection's backpressure state at one moment (tests, diagnostics).
    struct Backpressure: Sendable, Equatable {
        var unwrittenBytes: Int
        var readingPaused: Bool
        var heldFrames: Int
        var unsentResponses: Int
        var callsInFlight = 0
    }

    var backpressure: Backpressure {
        Backpressure(unwrittenBytes: machine.unwrittenBytes, readingPaused: machine.readingPaused,
                     heldFrames: machine.heldFrames, unsentResponses: machine.unsentResponses.count,
                     callsInFlight: machine.callsInFlight)
    }

    func read(context: ChannelHandlerContext) {
        if machine.readingPaused, !lingering {
            if !readWithheld { observer.readingPaused?(peer, true) }
            readWithheld = true
        } else {
            context.read()
        }
    }

    /// The output drained below the bound: handle the frames held meanwhile, then read.
    private func resumeReading() {
        guard let context else { return }
        readingBatch = true
        while true {
            flushIfCallsWaitOnIt()
            guard let action = machine.nextHeldFrame() else { break }
            perform(action)
        }
        readingBatch = false
        flushIfNeeded()
        if readWithheld, !machine.readingPaused {
            readWithheld = false
            observer.readingPaused?(peer, false)
            context.read()
        }
    }

    // MARK: - actions

    private func perform(_ action: ServerConnectionStateMachine.Action) {
        guard let context else { return }
        switch action {
        case .none:
            break
        case .sendSettings:
            let c = configuration.connection
            write(.settings(ServerSettings(
                maxFrameSize: UInt32(clamping: c.maxFrameSize), maxConcurrentCalls: UInt32(clamping: c.maxConcurrentCalls),
                idleTimeoutMillis: c.idleTimeout.milliseconds, keepaliveIntervalMillis: c.keepaliveInterval.milliseconds,
                server: configuration.serverName)))
        case .startCall(let request):
            start(request, context: context)
        case .reject(let callID, let error):
            write(.response(ResponseFrame(callID: callID, error: error)))
        case .cancelCall(let callID):
            deadlineTimers.removeValue(forKey: callID)?.cancel()
            tasks[callID]?.cancel()
        case .answerAndCancel(let callID, let error):
            if observer.callFinished != nil { answered[callID] = error.code }
            deadlineTimers.removeValue(forKey: callID)
            tasks[callID]?.cancel()
            write(.response(ResponseFrame(callID: callID, error: error)))
        case .sendResponse, .replaceResponse, .dropResponse:
            preconditionFailure("handled in finish(callID:response:)")
        case .resumeReading:
            // Not from inside the write callback that reported the drain: that runs within
            // a flush, and handling frames there would write re-entrantly.
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute { loopBound.value.resumeReading() }
        case .sendPong(let data):
            write(.pong(data))
        case .sendPing(let data):
            write(.ping(data))
        case .sendGoAway(let goAway):
            write(.goAway(goAway))
            flushIfNeeded()
        case .sendGoAwayAndClose(let goAway):
            flushIfNeeded()  // the frames held back go first
            let bytes = FrameCodec.encode(.goAway(goAway), allocator: context.channel.allocator)
            context.write(wrapOutboundOut(bytes), promise: nil)
            needsFlush = true
            closeGracefully()
        case .close:
            // Often reported from a write's completion, inside a flush: half-close after it.
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute { loopBound.value.closeGracefully() }
        }
    }

    /// Ends the connection without losing what was written last (the GoAway, the final
    /// answers). Closing a socket whose input holds unread bytes makes the kernel send RST,
    /// and a reset can discard those frames before the client reads them. So: half-close
    /// the output once every queued frame is written (the client reads them, then EOF),
    /// read and drop what the client still sends, and close when the client closes its
    /// side, or `closeLinger` after this at the latest (a client that reads nothing or never
    /// closes: the queued output may then never be written).
    private func closeGracefully() {
        guard !lingering, let context else { return }
        lingering = true
        partialFrame = nil
        flushIfNeeded()
        let channel = context.channel
        let halfClosed = context.eventLoop.makePromise(of: Void.self)
        // Waits for the pending writes, then shuts the socket's output down.
        context.close(mode: .output, promise: halfClosed)
        halfClosed.futureResult.whenFailure { _ in channel.close(promise: nil) }
        closeTimer?.cancel()
        closeTimer = context.eventLoop.scheduleTask(in: Self.closeLinger) { channel.close(promise: nil) }
        // Input must keep flowing to reach the client's EOF, even when backpressure held it.
        if readWithheld {
            readWithheld = false
            observer.readingPaused?(peer, false)
            context.read()
        }
    }

    private func start(_ request: RequestFrame, context: ChannelHandlerContext) {
        let annotations = observer.annotateCalls ? CallAnnotations() : nil
        if observer.callFinished != nil {
            calls[request.callID] = (ContinuousClock.now, request.method, annotations)
        }
        let handler: RPCRouter.Handler
        if let lastRoute, lastRoute.method == request.method {
            handler = lastRoute.handler
        } else {
            switch router.handler(for: request.method) {
            case .success(let found):
                handler = found
                lastRoute = (request.method, found)
            case .failure(let error):
                finish(callID: request.callID, response: ResponseFrame(callID: request.callID, error: error))
                return
            }
        }
        let deadline = request.timeoutMicros > 0
            ? ContinuousClock.now + .microseconds(Int64(clamping: request.timeoutMicros)) : nil
        let call = ServerCall(callID: request.callID, method: request.method, metadata: request.metadata,
                              deadline: deadline, callsInFlight: machine.callsInFlight,
                              peerCertificateURIs: peerCertificateURIs, annotations: annotations)
        switch handler {
        case .sync(let body):
            let response: ResponseFrame
            do {
                // The handler replaces the contents (`SyncHandler`; `serialize(into:)` does).
                try body(request.message, call, &syncResponseBytes)
                response = ResponseFrame(callID: request.callID, message: syncResponseBytes)
            } catch {
                response = ResponseFrame(callID: request.callID, error: RPCRouter.status(for: error))
            }
            finish(callID: request.callID, response: response)
            // The answer is encoded into the output by now: the array is not shared any more
            // and the next call reuses it, unless it grew past what a connection keeps.
            if syncResponseBytes.capacity > RepeatedRequestParts.maxKeptBytes { syncResponseBytes = [] }
        case .async(let body):
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let callID = request.callID
            let message = request.message
            tasks[callID] = Task {
                let response: ResponseFrame
                do {
                    response = ResponseFrame(callID: callID, message: try await body(message, call))
                } catch {
                    response = ResponseFrame(callID: callID, error: RPCRouter.status(for: error))
                }
                eventLoop.execute { loopBound.value.finish(callID: callID, response: response) }
            }
            if request.timeoutMicros > 0 {
                deadlineTimers[callID] = eventLoop.scheduleTask(in: .microseconds(Int64(clamping: request.timeoutMicros))) {
                    loopBound.value.perform(loopBound.value.machine.deadlinePassed(callID: callID))
                }
            }
        }
    }

    private func finish(callID: UInt64, response: ResponseFrame) {
        tasks.removeValue(forKey: callID)
        deadlineTimers.removeValue(forKey: callID)?.cancel()
        let response = fitted(response)
        // Small answers are always queued (`alwaysQueuedResponseBytes`): no need to size them.
        let roughSize = response.message.count + response.details.count + response.statusMessage.utf8.count
        let bytes = roughSize < 512 ? 0 : FrameCodec.encodedSize(.response(response))
        switch machine.callFinished(callID: callID, responseBytes: bytes, serverUnwrittenBytes: unwrittenOutput.total) {
        case .sendResponse:
            report(callID: callID, code: response.code, message: response.statusMessage)
            write(.response(response), response: callID)
        case .replaceResponse(let error):
            // The result is released here, unqueued: the client has not read what it has.
            let replacement = ResponseFrame(callID: callID, error: error)
            observer.responseReplaced?(peer)
            report(callID: callID, code: replacement.code, message: replacement.statusMessage)
            write(.response(replacement), response: callID)
        case .dropResponse(let close):
            // Answered already (deadline) or cancelled by the client.
            report(callID: callID, code: answered.removeValue(forKey: callID) ?? .cancelled, message: "")
            if close { perform(.close) }
        default:
            break
        }
        if !readingBatch { flushIfNeeded() }
        lastUse = .now()
    }

    private func report(callID: UInt64, code: StatusCode, message: String) {
        guard let callFinished = observer.callFinished, let call = calls.removeValue(forKey: callID) else { return }
        callFinished(FinishedCall(method: call.method, callID: callID, code: code, message: message,
                                  duration: ContinuousClock.now - call.started, peer: peer, annotations: call.annotations))
    }

    /// The client refuses frames above the announced maximum, so an oversized reply becomes
    /// a RESOURCE_EXHAUSTED status instead of a broken connection.
    private func fitted(_ response: ResponseFrame) -> ResponseFrame {
        let limit = configuration.connection.maxFrameSize
        let roughSize = response.message.count + response.details.count + response.statusMessage.utf8.count
        guard roughSize > limit - 1024 else { return response }
        let size = FrameCodec.encodedSize(.response(response)) - FrameCodec.lengthPrefixSize
        guard size > limit else { return response }
        return ResponseFrame(callID: response.callID, error: RPCError(
            code: .resourceExhausted,
            message: "the response would be a frame of \(size) bytes, above the maximum frame size of \(limit)"))
    }

    /// Writes `frame`, counted as unwritten output until the socket takes it.
    private func write(_ frame: Frame, response callID: UInt64? = nil) {
        guard let context else { return }
        let bytes: Int
        if Self.isSmall(frame) {
            var batch: ByteBuffer
            if heldBackIsBatch, let held = heldBackFrames, held.readableBytes < Self.maxBatchBytes {
                batch = held
            } else {
                passOnHeldFrames(context)
                batch = context.channel.allocator.buffer(capacity: 512)
                heldBackIsBatch = true
            }
            // Out of the property while it grows, so the buffer is never shared (no copy).
            heldBackFrames = nil
            let before = batch.writerIndex
            FrameCodec.encode(frame, into: &batch)
            bytes = batch.writerIndex - before
            heldBackFrames = batch
        } else {
            let buffer = FrameCodec.encode(frame, allocator: context.channel.allocator)
            bytes = buffer.readableBytes
            passOnHeldFrames(context)
            heldBackFrames = buffer
            heldBackIsBatch = false
        }
        // Waiting starts now, not at the last write, which may be long ago.
        if machine.unwrittenBytes == 0 { lastWritten = .now() }
        machine.queued(bytes: bytes)
        let cost = ServerConnectionStateMachine.outputCost(frameBytes: bytes)
        unwrittenOutput.add(cost)
        unreported.append((bytes, cost, callID))
        unpromised += 1
        needsFlush = true
    }

    /// Whether `frame` goes into a batch buffer: certainly under `batchedFrameBytes` encoded.
    private static func isSmall(_ frame: Frame) -> Bool {
        switch frame {
        case .response(let response):
            response.message.count + response.details.count + response.statusMessage.utf8.count < batchedFrameBytes - 64
        case .goAway(let goAway):
            goAway.message.utf8.count < batchedFrameBytes - 64
        case .settings(let settings):
            settings.server.utf8.count < batchedFrameBytes - 64
        case .request(let request):
            request.message.count + request.method.utf8.count < batchedFrameBytes - 64 && request.metadata.isEmpty
        case .cancel, .ping, .pong:
            true
        }
    }

    /// The oldest `count` frames passed on were written (or failed: the bytes are gone
    /// either way).
    private func reportWritten(oldest count: Int) {
        for _ in 0..<count { release(unreported.removeFirst()) }
    }

    private func release(_ frame: (bytes: Int, cost: Int, response: UInt64?)) {
        unwrittenOutput.subtract(frame.cost)
        lastWritten = .now()
        perform(machine.written(bytes: frame.bytes, response: frame.response))
    }

    /// Answers written in this read batch hold their calls' slots until the socket takes them;
    /// at the limit, flush now so a client that reads gets its slots back before the next frame.
    private func flushIfCallsWaitOnIt() {
        if needsFlush, machine.atCallLimit { flushIfNeeded() }
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        passOnHeldFrames(context)
        context.flush()
    }

    /// Writes the held buffer with a promise that reports its frames written.
    private func passOnHeldFrames(_ context: ChannelHandlerContext) {
        guard let held = heldBackFrames else { return }
        heldBackFrames = nil
        framesPerPromise.append(unpromised)
        unpromised = 0
        let promise = context.eventLoop.makePromise(of: Void.self)
        // The closure captures only `self`, and each buffer's count waits in
        // `framesPerPromise`: promises complete in write order, so the oldest count is this
        // buffer's.
        promise.futureResult.assumeIsolated().whenComplete { [self] _ in
            reportWritten(oldest: framesPerPromise.removeFirst())
        }
        context.write(wrapOutboundOut(held), promise: promise)
    }

    // MARK: - timers

    private func tick() {
        let now = NIODeadline.now()
        // A client taking output is alive even while the server, paused, reads nothing from it.
        // (While output waits, the machine sends no ping; see `readerStalled`.)
        let silent = now - max(lastRead, lastWritten)
        let c = configuration.connection
        let idle = TimeAmount.nanoseconds(c.idleTimeout.nanoseconds)
        // Pings and pongs keep a connection alive but do not make it busy.
        if now - lastUse >= idle {
            perform(machine.idleTimeoutPassed())
        }
        if now - lastWritten >= idle {
            perform(machine.readerStalled())
        }
        let interval = TimeAmount.nanoseconds(c.keepaliveInterval.nanoseconds)
        if silent >= interval, now - lastPing >= interval {
            lastPing = now
            perform(machine.keepaliveTimerFired())
        }
        flushIfNeeded()
    }
}
