/// Every limit of the server, with the defaults docs/PROTOCOL.md states.
public struct RPCServerConfiguration: Sendable {
    public struct Connection: Sendable {
        /// Largest frame accepted, checked from the length prefix before the body is buffered.
        public var maxFrameSize = 4 * 1024 * 1024
        /// Calls in flight on one connection; beyond it a call gets RESOURCE_EXHAUSTED. A call
        /// counts until its response is written to the socket.
        public var maxConcurrentCalls = 100
        /// Output a client has not read (frames the socket has not taken, each counting its
        /// size plus 512 bytes) at which the server stops reading the connection; it reads
        /// again when half has drained. Two maximum frames by default.
        public var maxUnwrittenBytes = 8 * 1024 * 1024
        /// Time a new connection has to send its preface.
        public var handshakeTimeout: Duration = .seconds(10)
        /// A connection with no call in flight and no frame for this long is closed; so is one
        /// whose client takes none of the output waiting for it this long.
        public var idleTimeout: Duration = .seconds(300)
        /// Ping a connection that has been silent this long; close it if the ping goes unanswered
        /// for another interval.
        public var keepaliveInterval: Duration = .seconds(60)

        public init() {}
    }

    public var host = "127.0.0.1"
    /// 0 picks a free port (tests).
    public var port = 7420
    public var connection = Connection()
    /// Output all connections together hold for clients that have not read it (each frame
    /// counting its size plus 512 bytes). Past it, a finished call's response of more than
    /// 1 KiB is replaced by a short RESOURCE_EXHAUSTED, so many connections that do not read
    /// cannot hold many times the per-connection bound.
    public var maxServerUnwrittenBytes = 256 * 1024 * 1024
    /// Connections beyond this get a GOAWAY (TOO_MANY_CONNECTIONS) and are closed.
    public var maxConnections = 1024
    /// On shutdown, calls in flight get this long to finish before connections are closed.
    public var shutdownGracePeriod: Duration = .seconds(30)
    /// Event loop threads; 0 means one per core.
    public var threads = 0
    public var serverName = "apikeysd"
    /// TLS on every connection (`.server(...)` or `.mutual(...)`); nil is plain TCP.
    public var tls: TLS?

    public init() {}

    public static var defaults: RPCServerConfiguration { RPCServerConfiguration() }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var milliseconds: UInt32 { UInt32(clamping: nanoseconds / 1_000_000) }
}
