public import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The RPC server: TCP, the preface, framing, and a connection handler per client,
/// dispatching to an `RPCRouter`.
///
/// ```swift
/// let server = RPCServer(router: router, configuration: .defaults)
/// let address = try await server.start()
/// ...
/// await server.shutdown()   // graceful: GOAWAY, calls finish, then close
/// ```
public final class RPCServer: Sendable {
    private let router: RPCRouter
    private let configuration: RPCServerConfiguration
    private let observer: RPCServerObserver
    private let group: MultiThreadedEventLoopGroup
    private let state = Mutex(State())
    /// Unwritten output of all connections (`maxServerUnwrittenBytes`).
    let unwrittenOutput = UnwrittenOutput()

    private struct State {
        var channel: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
        /// Swapped by `reloadTLS()`; each new connection takes the one current when it is accepted.
        var tls: ServerTLSContext?
    }

    public init(router: RPCRouter, configuration: RPCServerConfiguration, observer: RPCServerObserver = .init()) {
        self.router = router
        self.configuration = configuration
        self.observer = observer
        let threads = configuration.threads > 0 ? configuration.threads : System.coreCount
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    }

    /// Binds and starts accepting; returns the bound address (useful with port 0).
    public func start() async throws -> SocketAddress {
        let router = self.router
        let configuration = self.configuration
        let observer = self.observer
        let unwrittenOutput = self.unwrittenOutput
        // Files are read here (and on reload), never per connection: a bad path fails the start.
        let initialTLS = try configuration.tls?.makeContext()
        state.withLock { $0.tls = initialTLS }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // A closing connection half-closes its output and reads until the client's EOF
            // (`ServerConnectionHandler.closeGracefully`), so a reset cannot discard its last frames.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.tcpOption(Self.notSentLowWatermark), value: Self.kernelUnsentBytes)
            .childChannelInitializer { [self] channel in
                let tls = self.state.withLock { $0.tls }
                guard self.admit(channel) else {
                    // Over the connection limit: say why once the socket is up, then close.
                    let goAway = GoAwayFrame(lastCallID: 0, reason: .tooManyConnections,
                                             message: "the server has \(configuration.maxConnections) connections already")
                    return channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try tls?.addHandlers(to: sync)
                        try sync.addHandler(RejectingHandler(goAway: goAway, closeAfter: configuration.connection.handshakeTimeout))
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    // TLS first; the preface and frames run inside it unchanged.
                    try tls?.addHandlers(to: sync)
                    try sync.addHandler(ServerConnectionHandler(router: router, configuration: configuration,
                                                                    observer: observer, unwrittenOutput: unwrittenOutput))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch let error as IOError {
            throw WireError(code: .connectionClosed, message: Self.bindFailure(error, host: configuration.host, port: configuration.port))
        } catch {
            throw WireError(code: .connectionClosed, message: "cannot listen on \(configuration.host):\(configuration.port): \(error) (check --host)")
        }
        state.withLock { $0.channel = channel }
        guard let address = channel.localAddress else { throw WireError(code: .connectionClosed, message: "the server socket has no address") }
        return address
    }

    /// Re-reads the TLS certificate, key and client roots from the configured paths: new
    /// connections use them, open ones keep theirs. A file that cannot be read changes nothing.
    /// Returns false when the server has no TLS.
    @discardableResult
    public func reloadTLS() throws -> Bool {
        guard let tls = configuration.tls else { return false }
        let context = try tls.makeContext()
        state.withLock { $0.tls = context }
        return true
    }

    /// Binds `host:port` once and lets go, so a start can fail on a taken port before it
    /// opens anything else; throws a ``WireError`` naming the address and a likely fix.
    /// Port 0 always binds. A plain `bind()` without `listen()`: a listening probe accepted
    /// connections that arrived in its moment (a client reconnecting to a restarting server)
    /// and then neither served nor closed them, so they hung until the client's timeout.
    public static func checkCanListen(host: String, port: Int, flags: (host: String, port: String) = ("--host", "--port")) async throws {
        guard port != 0 else { return }
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw WireError(code: .connectionClosed, message: "cannot listen on \(host):\(port): \(error) (check \(flags.host))")
        }
        let descriptor = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else {
            throw WireError(code: .connectionClosed, message: bindFailure(IOError(errnoCode: errno, reason: "socket"), host: host, port: port, flags: flags))
        }
        defer { close(descriptor) }
        // As the server binds: a port left in TIME_WAIT by the previous run is free to use.
        var on: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { pointer, size in bind(descriptor, pointer, socklen_t(size)) }
        guard bound == 0 else {
            throw WireError(code: .connectionClosed, message: bindFailure(IOError(errnoCode: errno, reason: "bind"), host: host, port: port, flags: flags))
        }
    }

    /// One line naming the address and the likely fix, instead of `bind(descriptor:...)`.
    static func bindFailure(_ error: IOError, host: String, port: Int, flags: (host: String, port: String) = ("--host", "--port")) -> String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        switch error.errnoCode {
        case EADDRINUSE:
            return "cannot listen on \(address): the address is in use (another apikeysd or program listens there; stop it or choose another \(flags.port))"
        case EACCES:
            return "cannot listen on \(address): permission denied (ports below 1024 need privileges; choose a \(flags.port) of 1024 or more)"
        case EADDRNOTAVAIL:
            return "cannot listen on \(address): the address is not on this machine (check \(flags.host))"
        default:
            return "cannot listen on \(address): \(String(cString: strerror(error.errnoCode)))"
        }
    }

    /// TCP_NOTSENT_LOWAT: the kernel takes output only while less than `kernelUnsentBytes` of
    /// it is unsent. Output a client does not read then waits in the connection's own bounded
    /// queue (`maxUnwrittenBytes`), where the server sees it, instead of in megabytes of socket
    /// buffer, and a keepalive ping reaches a slow reader after little data.
    #if canImport(Darwin)
    private static let notSentLowWatermark = NIOBSDSocket.Option(rawValue: 0x201)
    #else
    private static let notSentLowWatermark = NIOBSDSocket.Option(rawValue: 25)
    #endif
    private static let kernelUnsentBytes = 128 * 1024

    /// Admits a connection under the limit and forgets it when it closes.
    private func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = state.withLock { state in
            guard !state.shuttingDown, state.connections.count < configuration.maxConnections else { return false }
            state.connections[id] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [self] _ in
                _ = state.withLock { $0.connections.removeValue(forKey: id) }
            }
        }
        return admitted
    }

    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// The backpressure state of every served connection, read on its event loop (tests).
    func backpressure() async -> [ServerConnectionHandler.Backpressure] {
        let channels = state.withLock { Array($0.connections.values) }
        var result: [ServerConnectionHandler.Backpressure] = []
        for channel in channels {
            let snapshot = try? await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: ServerConnectionHandler.self).backpressure
            }.get()
            if let snapshot { result.append(snapshot) }
        }
        return result
    }

    /// Graceful shutdown: stop accepting, send GOAWAY on every connection, let calls in
    /// flight finish (up to the grace period), then close everything.
    public func shutdown() async {
        let (listener, connections) = state.withLock { state -> ((any Channel)?, [any Channel]) in
            state.shuttingDown = true
            return (state.channel, Array(state.connections.values))
        }
        try? await listener?.close()
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(ServerConnectionHandler.ShutdownEvent())
        }
        let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
        for connection in connections {
            // Wait for each to close by itself; past the grace period, close it.
            while connection.isActive, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
            try? await connection.close()
        }
        try? await group.shutdownGracefully()
    }
}

/// Answers a connection the server will not serve with a GOAWAY, then closes it.
final class RejectingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let goAway: GoAwayFrame
    private let closeAfter: Duration
    private var closeTimer: Scheduled<Void>?

    init(goAway: GoAwayFrame, closeAfter: Duration) {
        self.goAway = goAway
        self.closeAfter = closeAfter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Under TLS the GOAWAY waits for a handshake that may never come.
        let channel = context.channel
        closeTimer = channel.eventLoop.scheduleTask(in: .nanoseconds(closeAfter.nanoseconds)) { channel.close(promise: nil) }
        if context.channel.isActive { reject(context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        context.fireChannelInactive()
    }

    func channelActive(context: ChannelHandlerContext) {
        reject(context)
    }

    private var done = false

    private func reject(_ context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        var buffer = context.channel.allocator.buffer(capacity: 64)
        FrameCodec.encode(.goAway(goAway), into: &buffer)
        let channel = context.channel
        let loopBound = NIOLoopBound(self, eventLoop: channel.eventLoop)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            // Closing at once would reset the connection while the client's preface is unread,
            // and a reset discards the GOAWAY before the client reads it. So: half-close, drain
            // what the client sends, and close when it does or shortly after; these connections
            // are outside the limit, so not for long.
            channel.close(mode: .output, promise: nil)
            loopBound.value.closeTimer?.cancel()
            loopBound.value.closeTimer = channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Whatever it sends is drained and dropped.
    }
}

/// Output queued on all of a server's connections and not yet taken by their sockets, as
/// `ServerConnectionStateMachine.outputCost`; shared by the connections' handlers.
final class UnwrittenOutput: Sendable {
    private let bytes = Atomic<Int>(0)

    var total: Int { bytes.load(ordering: .relaxed) }

    func add(_ cost: Int) { bytes.add(cost, ordering: .relaxed) }

    func subtract(_ cost: Int) { bytes.subtract(cost, ordering: .relaxed) }
}
