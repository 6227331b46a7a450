public import NIOCore
import NIOPosix
import Synchronization

/// A client connection: one TCP connection multiplexing many calls.
///
/// ```swift
/// let connection = try await RPCConnection.connect(host: "127.0.0.1", port: 7420)
/// let reply = try await connection.call(APIKeysV1.Health.Method.check, APIKeysV1.HealthCheckRequest())
/// await connection.close()
/// ```
/// Cancelling the calling task cancels the call (a Cancel frame is sent).
public final class RPCConnection: Sendable {
    public struct Configuration: Sendable {
        /// Largest frame accepted from the server.
        public var maxFrameSize = 4 * 1024 * 1024
        public var connectTimeout: Duration = .seconds(10)
        /// Bounds the whole set-up (TCP connect, TLS, preface, the server's settings): a
        /// listener that accepts and never answers fails the connect with UNAVAILABLE
        /// ("handshake timeout") instead of hanging it. Nil waits for the settings without limit.
        public var handshakeTimeout: Duration?
        /// Hold calls beyond the server's max_concurrent_calls until a slot frees, rather
        /// than sending them to be refused with RESOURCE_EXHAUSTED.
        public var respectServerLimit = true
        /// TLS (`.server(...)` or `.mutual(...)`); nil is plain TCP.
        public var tls: TLS?

        public init() {}
    }

    /// The limits the server announced.
    public let serverSettings: ServerSettings
    private let channel: any Channel
    private let handler: NIOLoopBound<ClientConnectionHandler>
    private let status: ConnectionStatus

    private init(channel: any Channel, handler: NIOLoopBound<ClientConnectionHandler>, settings: ServerSettings,
                 status: ConnectionStatus) {
        self.channel = channel
        self.handler = handler
        self.serverSettings = settings
        self.status = status
    }

    /// Connects, sends the preface and waits for the server's settings.
    /// With no `group`, the connection runs on a shared event loop group.
    public static func connect(host: String, port: Int, configuration: Configuration = Configuration(),
                               group: (any EventLoopGroup)? = nil) async throws -> RPCConnection {
        let loopGroup: any EventLoopGroup = group ?? MultiThreadedEventLoopGroup.singleton
        // The pipeline is built in the initializer, on the event loop, so the preface goes out
        // the moment the socket connects: no wait for a Swift task to be scheduled, which on
        // a busy machine could outlast the server's handshake timeout.
        let tls = try configuration.tls?.makeContext(host: host)
        let installed = Mutex<(NIOLoopBound<ClientConnectionHandler>, EventLoopFuture<ServerSettings>)?>(nil)
        let status = ConnectionStatus()
        let timedOut = Mutex<RPCError?>(nil)
        let bootstrap = ClientBootstrap(group: loopGroup)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.nanoseconds(configuration.connectTimeout.nanoseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let promise = channel.eventLoop.makePromise(of: ServerSettings.self)
                    let handler = ClientConnectionHandler(settings: promise, respectServerLimit: configuration.respectServerLimit,
                                                          status: status)
                    if let limit = configuration.handshakeTimeout {
                        // Started before the TCP connect, so it bounds every step of the set-up.
                        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(limit.nanoseconds)) {
                            let error = RPCError(code: .unavailable, message: "handshake timeout: \(host):\(port) sent no apikeys settings within \(limit)")
                            timedOut.withLock { $0 = error }
                            promise.fail(error)
                            channel.close(promise: nil)
                        }
                        promise.futureResult.whenComplete { _ in timer.cancel() }
                    }
                    let sync = channel.pipeline.syncOperations
                    do {
                        try tls?.addHandler(to: sync)
                        try sync.addHandler(ByteToMessageHandler(
                            FrameDecoder(expectPreface: false, maxFrameSize: configuration.maxFrameSize),
                            maximumBufferSize: configuration.maxFrameSize + 2 * FrameCodec.lengthPrefixSize))
                        try sync.addHandler(handler)
                    } catch {
                        promise.fail(error)
                        throw error
                    }
                    installed.withLock { $0 = (NIOLoopBound(handler, eventLoop: channel.eventLoop), promise.futureResult) }
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            // The handshake timer closed a connect still under way: say that, not "closed".
            if let timeout = timedOut.withLock({ $0 }) { throw timeout }
            throw error
        }
        guard let (handler, settings) = installed.withLock({ $0 }) else {
            try? await channel.close()
            throw RPCError(code: .unavailable, message: "the connection could not be set up")
        }
        do {
            let serverSettings = try await settings.get()
            return RPCConnection(channel: channel, handler: handler, settings: serverSettings, status: status)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Calls `method` and decodes the reply. Throws `RPCError` for any status but OK.
    public func call<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: String, _ request: Request, metadata: [String: String] = [:], timeout: Duration? = nil,
        as: Response.Type = Response.self
    ) async throws -> Response {
        let reply = try await call(method, message: request.serializedBytes(), metadata: metadata, timeout: timeout)
        do {
            return try Response(serializedBytes: reply.message)
        } catch {
            throw RPCError(code: .internal, message: "the server's reply is not a valid \(Response.protoName): \(error.message)")
        }
    }

    /// Calls a generated method (`APIKeysV1.<Service>.Method.<name>`) and decodes its reply.
    public func call<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>, _ request: Request, metadata: [String: String] = [:],
        timeout: Duration? = nil
    ) async throws -> Response {
        try await call(method.path, request, metadata: metadata, timeout: timeout)
    }

    /// Calls `method` with raw message bytes; the response frame of an OK call.
    public func call(_ method: String, message: [UInt8], metadata: [String: String] = [:],
                     timeout: Duration? = nil) async throws -> ResponseFrame {
        try await attempt(method, message: message, metadata: metadata, timeout: timeout).mapError(\.error).get()
    }

    /// Calls `method` with raw message bytes; a failure says whether the server may have run
    /// the call, for the reconnecting client's retries.
    package func attempt(_ method: String, message: [UInt8], metadata: [String: String],
                         timeout: Duration?) async -> Result<ResponseFrame, CallFailure> {
        let handle = CallHandle()
        let handler = self.handler
        let eventLoop = channel.eventLoop
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<ResponseFrame, CallFailure>, Never>) in
                eventLoop.execute {
                    guard !handle.isCancelled else {
                        continuation.resume(returning: .failure(CallFailure(
                            RPCError(code: .cancelled, message: "the call was cancelled"), fate: .answered)))
                        return
                    }
                    let callID = handler.value.start(method: method, metadata: metadata, message: message, timeout: timeout) { result in
                        continuation.resume(returning: result)
                    }
                    // Cancelled between the send and now: the cancellation handler saw no ID yet.
                    if let callID, handle.started(callID) { handler.value.cancel(callID) }
                }
            }
        } onCancel: {
            if let callID = handle.cancel() {
                eventLoop.execute { handler.value.cancel(callID) }
            }
        }
    }

    /// Tells the server no more calls come, then closes.
    public func close() async {
        let handler = self.handler
        try? await channel.eventLoop.submit { handler.value.goAway() }.get()
        try? await channel.close()
    }

    /// Whether the TCP connection is still open.
    public var isActive: Bool { channel.isActive }

    /// Open and not draining: no GoAway came from either side, so new calls may start here.
    public var acceptsCalls: Bool { status.acceptsCalls && channel.isActive }
}

/// Shares a call's ID between the event loop and the task cancellation handler.
private final class CallHandle: Sendable {
    private let state = Mutex<(callID: UInt64?, cancelled: Bool)>((nil, false))

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Records the sent call's ID; returns whether the call was cancelled meanwhile.
    func started(_ callID: UInt64) -> Bool {
        state.withLock { state in
            state.callID = callID
            return state.cancelled
        }
    }

    /// Marks the call cancelled; returns its ID if it was already sent.
    func cancel() -> UInt64? {
        state.withLock { state in
            state.cancelled = true
            return state.callID
        }
    }
}
