public import APIKeysWire

extension APIKeysClient {
    /// How a client connects, reconnects and spreads its calls.
    public struct Configuration: Sendable {
        /// TLS (`.server(...)` or `.mutual(...)`); nil is plain TCP.
        public var tls: RPCConnection.Configuration.TLS?
        /// Most connections kept at once. Another opens only while every open one has a
        /// call in flight, so sequential use keeps one and concurrent load spreads.
        public var poolSize = 2
        /// Bounds one connection's whole set-up (TCP, TLS, preface, the server's settings):
        /// a listener that accepts and never answers costs an attempt this much, not a hung call.
        public var handshakeTimeout: Duration = .seconds(10)
        /// How long a call waits for a connection while none can be made, reconnecting with
        /// backoff meanwhile (the call's own timeout may end it sooner): long enough to ride
        /// out a server restart.
        public var connectionWait: Duration = .seconds(20)
        /// The first reconnect waits about `backoffBase`, each further failure doubles it up
        /// to `backoffMax`; each delay is drawn between half and all of that, so clients cut
        /// off together do not come back together.
        public var backoffBase: Duration = .milliseconds(50)
        public var backoffMax: Duration = .seconds(1)
        /// Each call's deadline unless the client's `timeout` is changed; nil is none.
        public var timeout: Duration? = .seconds(30)
        /// How often one call is sent again after the server reported it not run.
        public var maxRetries = 10

        public init() {}

        public static var defaults: Configuration { Configuration() }
    }

    /// Counters, for monitoring and tests.
    public struct Statistics: Sendable, Equatable {
        /// Connections opened, and attempts that failed.
        public var connectionsOpened = 0
        public var connectFailures = 0
        /// Calls sent again because the server did not run them (GoAway, a closing connection).
        public var retries = 0
        /// Open connections that take new calls.
        public var openConnections = 0
        /// Calls started on each open connection.
        public var callsPerConnection: [Int] = []
    }
}
