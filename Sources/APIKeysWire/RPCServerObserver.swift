import Synchronization

/// What the server reports about connections and calls, for access logs and metrics. The
/// wire layer imports neither: the server above decides what to do with each report.
///
/// ```swift
/// var observer = RPCServerObserver()
/// observer.callFinished = { call in logger.info("call", metadata: ["method": "\(call.method)"]) }
/// let server = RPCServer(router: router, configuration: configuration, observer: observer)
/// ```
public struct RPCServerObserver: Sendable {
    /// A connection was admitted (its peer, `host:port`).
    public var connectionOpened: (@Sendable (_ peer: String) -> Void)?
    public var connectionClosed: (@Sendable (_ peer: String) -> Void)?
    /// A connection broke a rule of the protocol (bad preface, oversized frame, ...).
    public var protocolError: (@Sendable (_ peer: String, _ error: WireError) -> Void)?
    /// A client left so much output unread that the server stopped reading its connection
    /// (`true`), or took it and reading resumed (`false`); also `false` if it closes paused.
    public var readingPaused: (@Sendable (_ peer: String, _ paused: Bool) -> Void)?
    /// A large response was replaced by a short RESOURCE_EXHAUSTED because clients left too
    /// much output unread (the per-connection or the server-wide bound).
    public var responseReplaced: (@Sendable (_ peer: String) -> Void)?
    /// Every call once its response is decided, OK or not.
    public var callFinished: (@Sendable (FinishedCall) -> Void)?
    /// Whether handlers get a ``CallAnnotations`` to say who called (the access log); off,
    /// no call pays for one.
    public var annotateCalls = false

    public init() {}
}

/// A call as the access log and the metrics see it.
public struct FinishedCall: Sendable {
    public var method: String
    public var callID: UInt64
    public var code: StatusCode
    /// The status message; only read for INTERNAL, which the handler already made safe.
    public var message: String
    public var duration: Duration
    public var peer: String
    public var annotations: CallAnnotations?
}

/// Who made a call, filled in by the handler that resolved the caller. Names and IDs only,
/// never a secret.
public final class CallAnnotations: Sendable {
    public struct Fields: Sendable {
        /// operator, service, user (a service acting for a user), certificate, anonymous.
        public var callerKind: String?
        public var service: String?
        public var tenant: String?
        public var user: String?
        public var keyID: String?
        /// For INTERNAL: the error ID the client was told (the cause is logged under it).
        public var errorID: String?
        public init() {}
    }

    private let fields = Mutex(Fields())

    public init() {}

    public func update(_ body: (inout Fields) -> Void) {
        fields.withLock { body(&$0) }
    }

    public var snapshot: Fields { fields.withLock { $0 } }
}
