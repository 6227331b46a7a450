import NIOCore

/// The client side of one connection, on its event loop: writes the preface, assigns
/// call IDs in send order, matches responses to waiting calls, answers pings, and
/// honours GOAWAY.
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = FrameDecoder.Event
    typealias OutboundOut = ByteBuffer

    typealias Completion = @Sendable (Result<ResponseFrame, CallFailure>) -> Void

    private struct Pending {
        let completion: Completion
        let deadlineTimer: Scheduled<Void>?

        func complete(_ result: Result<ResponseFrame, CallFailure>) {
            deadlineTimer?.cancel()
            completion(result)
        }
    }

    private var context: ChannelHandlerContext?
    private var pending: [UInt64: Pending] = [:]
    /// Calls waiting for a free slot under the server's concurrency limit, oldest first.
    private var queued: [(callID: UInt64, frame: RequestFrame)] = []
    private var queuedHead = 0
    /// The server's max_concurrent_calls once known; nil sends every call at once.
    private var sendWindow: Int?
    private let respectServerLimit: Bool
    private var nextCallID: UInt64 = 1
    /// Set once the server sent GOAWAY or the connection closed: why new calls fail.
    private var unavailable: RPCError? {
        didSet { if unavailable != nil { status.stopAcceptingCalls() } }
    }
    let settings: EventLoopPromise<ServerSettings>
    let status: ConnectionStatus

    init(settings: EventLoopPromise<ServerSettings>, respectServerLimit: Bool, status: ConnectionStatus = ConnectionStatus()) {
        self.settings = settings
        self.respectServerLimit = respectServerLimit
        self.status = status
    }

    /// GoAway reasons that refuse calls for the server's own state, not for anything in
    /// them: a call above last_call_id may be sent again on another connection. After a
    /// protocol error the same bytes would be refused again.
    private static let retryableGoAwayReasons: Set<GoAwayFrame.Reason> = [.noError, .idleTimeout, .keepaliveTimeout, .handshakeTimeout]

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Added before the connect completes (channelActive sends the preface) or after it.
        if context.channel.isActive { sendPreface(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendPreface(context)
        context.fireChannelActive()
    }

    private var prefaceSent = false

    private func sendPreface(_ context: ChannelHandlerContext) {
        guard !prefaceSent else { return }
        prefaceSent = true
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: Preface.bytes)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .frame(let frame) = unwrapInboundIn(data) else { return }
        switch frame {
        case .settings(let serverSettings):
            if respectServerLimit { sendWindow = max(1, Int(serverSettings.maxConcurrentCalls)) }
            settings.succeed(serverSettings)
            sendQueued(context: context)
        case .response(let response):
            guard let call = pending.removeValue(forKey: response.callID) else { return }
            inFlight -= 1
            sendQueued(context: context)
            call.deadlineTimer?.cancel()
            call.completion(response.code == .ok ? .success(response) : .failure(CallFailure(RPCError(
                code: response.code, message: response.statusMessage, details: response.details), fate: .answered)))
        case .ping(let data):
            send(.pong(data), context: context)
        case .goAway(let goAway):
            let error = RPCError(code: .unavailable, message: "the server closed the connection: \(goAway.message)")
            unavailable = error
            settings.fail(error)
            // Calls above last_call_id were not (and queued ones will not be) run.
            let retryable = Self.retryableGoAwayReasons.contains(goAway.reason)
            for id in pending.keys where id > goAway.lastCallID {
                let fate: CallFailure.Fate = retryable ? .notRun : (wasSent(id) ? .answered : .notSent)
                pending.removeValue(forKey: id)?.complete(.failure(CallFailure(error, fate: fate)))
            }
            queued.removeAll()
            queuedHead = 0
        case .pong, .request, .cancel:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An undecodable or oversized frame from the server: nothing more can be trusted.
        let message = (error as? WireError)?.message ?? "\(error)"
        failAll(RPCError(code: .unavailable, message: "connection failed: \(message)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(unavailable ?? RPCError(code: .unavailable, message: "the connection closed"))
        context.fireChannelInactive()
    }

    private func failAll(_ error: RPCError) {
        if unavailable == nil { unavailable = error }
        settings.fail(error)
        let calls = pending
        pending.removeAll()
        // A call still queued here never reached the socket; a sent one may have run.
        for (id, call) in calls { call.complete(.failure(CallFailure(error, fate: wasSent(id) ? .lost : .notSent))) }
        queued.removeAll()
        queuedHead = 0
    }

    // MARK: - calls, always on the event loop

    /// Starts a call and returns its ID, or nil when it failed at once.
    func start(method: String, metadata: [String: String], message: [UInt8], timeout: Duration?,
               completion: @escaping Completion) -> UInt64? {
        guard let context else {
            completion(.failure(CallFailure(RPCError(code: .unavailable, message: "the connection closed"), fate: .notSent)))
            return nil
        }
        if let unavailable {
            completion(.failure(CallFailure(unavailable, fate: .notSent)))
            return nil
        }
        let callID = nextCallID
        nextCallID += 1
        var timer: Scheduled<Void>?
        var timeoutMicros: UInt64 = 0
        if let timeout {
            timeoutMicros = UInt64(max(1, timeout.nanoseconds / 1000))
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
                loopBound.value.expire(callID)
            }
        }
        pending[callID] = Pending(completion: completion, deadlineTimer: timer)
        queued.append((callID, RequestFrame(callID: callID, method: method, metadata: metadata,
                                            timeoutMicros: timeoutMicros, message: message)))
        sendQueued(context: context)
        return callID
    }

    /// Calls sent and not yet answered (as far as the server is concerned).
    private var inFlight = 0

    /// Sends queued calls while the server's limit allows; a call beyond it waits here,
    /// as HTTP/2 clients wait for stream credit, instead of being refused by the server.
    private func sendQueued(context: ChannelHandlerContext) {
        while queuedHead < queued.count, inFlight < (sendWindow ?? Int.max) {
            let (callID, frame) = queued[queuedHead]
            queuedHead += 1
            // Calls cancelled or expired while queued are simply not sent.
            guard pending[callID] != nil else { continue }
            inFlight += 1
            send(.request(frame), context: context)
        }
        if queuedHead == queued.count {
            queued.removeAll(keepingCapacity: true)
            queuedHead = 0
        }
    }

    /// Whether the call was already sent (then the server must be told to stop it).
    private func wasSent(_ callID: UInt64) -> Bool {
        !queued[queuedHead...].contains { $0.callID == callID }
    }

    /// The caller gave up: tell the server, finish the call as CANCELLED.
    func cancel(_ callID: UInt64) {
        guard pending[callID] != nil, let context else { return }
        let sent = wasSent(callID)
        let call = pending.removeValue(forKey: callID)!
        call.deadlineTimer?.cancel()
        // A sent call keeps its slot until the server has stopped it; no response will come,
        // so the slot is given back now, as the server frees it when the work ends.
        if sent {
            inFlight -= 1
            send(.cancel(callID: callID), context: context)
            sendQueued(context: context)
        }
        call.completion(.failure(CallFailure(RPCError(code: .cancelled, message: "the call was cancelled"), fate: .answered)))
    }

    private func expire(_ callID: UInt64) {
        guard pending[callID] != nil, let context else { return }
        let sent = wasSent(callID)
        let call = pending.removeValue(forKey: callID)!
        if sent {
            inFlight -= 1
            send(.cancel(callID: callID), context: context)
            sendQueued(context: context)
        }
        call.completion(.failure(CallFailure(RPCError(code: .deadlineExceeded, message: "the call's deadline passed"), fate: .answered)))
    }

    func goAway() {
        guard let context else { return }
        unavailable = unavailable ?? RPCError(code: .unavailable, message: "the connection is closing")
        send(.goAway(GoAwayFrame(lastCallID: nextCallID - 1, reason: .noError, message: "client closing")), context: context)
    }

    private func send(_ frame: Frame, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        FrameCodec.encode(frame, into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }
}
