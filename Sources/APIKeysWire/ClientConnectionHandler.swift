import NIOCore

/// The client side of one connection, on its event loop: writes the preface, assigns
/// call IDs in send order, matches responses to waiting calls, answers pings, and
/// honours GOAWAY.
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = FrameDecoder.Event
    typealias OutboundOut = ByteBuffer

    typealias Completion = @Sendable (Result<ResponseFrame, RPCError>) -> Void

    private struct Pending {
        let completion: Completion
        let deadlineTimer: Scheduled<Void>?

        func complete(_ result: Result<ResponseFrame, RPCError>) {
            deadlineTimer?.cancel()
            completion(result)
        }
    }

    private var context: ChannelHandlerContext?
    private var pending: [UInt64: Pending] = [:]
    private var nextCallID: UInt64 = 1
    /// Set once the server sent GOAWAY or the connection closed: why new calls fail.
    private var unavailable: RPCError?
    let settings: EventLoopPromise<ServerSettings>

    init(settings: EventLoopPromise<ServerSettings>) {
        self.settings = settings
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
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
            settings.succeed(serverSettings)
        case .response(let response):
            guard let call = pending.removeValue(forKey: response.callID) else { return }
            call.deadlineTimer?.cancel()
            call.completion(response.code == .ok ? .success(response) : .failure(RPCError(
                code: response.code, message: response.statusMessage, details: response.details)))
        case .ping(let data):
            send(.pong(data), context: context)
        case .goAway(let goAway):
            let error = RPCError(code: .unavailable, message: "the server closed the connection: \(goAway.message)")
            unavailable = error
            settings.fail(error)
            for id in pending.keys where id > goAway.lastCallID {
                pending.removeValue(forKey: id)?.complete(.failure(error))
            }
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
        for call in calls.values { call.complete(.failure(error)) }
    }

    // MARK: - calls, always on the event loop

    /// Starts a call and returns its ID, or nil when it failed at once.
    func start(method: String, metadata: [String: String], message: [UInt8], timeout: Duration?,
               completion: @escaping Completion) -> UInt64? {
        guard let context else {
            completion(.failure(RPCError(code: .unavailable, message: "the connection closed")))
            return nil
        }
        if let unavailable {
            completion(.failure(unavailable))
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
        send(.request(RequestFrame(callID: callID, method: method, metadata: metadata,
                                   timeoutMicros: timeoutMicros, message: message)), context: context)
        return callID
    }

    /// The caller gave up: tell the server, finish the call as CANCELLED.
    func cancel(_ callID: UInt64) {
        guard let call = pending.removeValue(forKey: callID), let context else { return }
        call.deadlineTimer?.cancel()
        send(.cancel(callID: callID), context: context)
        call.completion(.failure(RPCError(code: .cancelled, message: "the call was cancelled")))
    }

    private func expire(_ callID: UInt64) {
        guard let call = pending.removeValue(forKey: callID), let context else { return }
        send(.cancel(callID: callID), context: context)
        call.completion(.failure(RPCError(code: .deadlineExceeded, message: "the call's deadline passed")))
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
