extension PostgresKeyStore {
    /// Tuning with defaults for a server.
    public struct Configuration: Sendable {
        /// Connections kept open for the port's calls (the listener has its own).
        public var maxConnections = 8
        /// How long connecting may take before the database counts as unreachable.
        public var connectTimeout: Duration = .seconds(2)
        /// How long a call waits for a free connection before it answers unavailable.
        public var acquireTimeout: Duration = .seconds(10)
        /// How long one statement may go unanswered before its connection is closed and the
        /// call answers unavailable: a database that hangs (a network partition, a stopped
        /// VM) must not hold calls for ever, as a closed socket would not.
        public var statementTimeout: Duration = .seconds(15)
        /// How often a write is run again after a serialization failure or a deadlock.
        public var maxWriteAttempts = 20

        public init() {}
    }
}
