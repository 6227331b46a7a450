/// One frame of the protocol (docs/PROTOCOL.md), as Swift values.
public enum Frame: Sendable, Equatable {
    case request(RequestFrame)
    case response(ResponseFrame)
    /// Stop call `callID`; the server sends no response for it.
    case cancel(callID: UInt64)
    case ping(UInt64)
    case pong(UInt64)
    case goAway(GoAwayFrame)
    case settings(ServerSettings)
}

public struct RequestFrame: Sendable, Equatable {
    public var callID: UInt64
    /// e.g. `/apikeys.v1.Keys/Generate`
    public var method: String
    public var metadata: [String: String]
    /// Relative deadline; 0 means none.
    public var timeoutMicros: UInt64
    public var message: [UInt8]

    public init(callID: UInt64, method: String, metadata: [String: String] = [:], timeoutMicros: UInt64 = 0, message: [UInt8] = []) {
        self.callID = callID
        self.method = method
        self.metadata = metadata
        self.timeoutMicros = timeoutMicros
        self.message = message
    }
}

public struct ResponseFrame: Sendable, Equatable {
    public var callID: UInt64
    public var code: StatusCode
    public var statusMessage: String
    public var details: [UInt8]
    public var message: [UInt8]

    public init(callID: UInt64, code: StatusCode = .ok, statusMessage: String = "", details: [UInt8] = [], message: [UInt8] = []) {
        self.callID = callID
        self.code = code
        self.statusMessage = statusMessage
        self.details = details
        self.message = message
    }

    public init(callID: UInt64, error: RPCError) {
        self.init(callID: callID, code: error.code, statusMessage: error.message, details: error.details)
    }
}

public struct GoAwayFrame: Sendable, Equatable {
    /// The values of `GoAwayReason` in frame.proto.
    public enum Reason: UInt32, Sendable {
        case noError = 0
        case protocolError = 1
        case frameTooLarge = 2
        case unsupportedVersion = 3
        case idleTimeout = 4
        case handshakeTimeout = 5
        case keepaliveTimeout = 6
        case tooManyConnections = 7
    }

    public var lastCallID: UInt64
    public var reason: Reason
    public var message: String

    public init(lastCallID: UInt64, reason: Reason, message: String) {
        self.lastCallID = lastCallID
        self.reason = reason
        self.message = message
    }
}

/// The server's first frame: its limits.
public struct ServerSettings: Sendable, Equatable {
    public var protocolVersion: UInt32
    public var maxFrameSize: UInt32
    public var maxConcurrentCalls: UInt32
    public var idleTimeoutMillis: UInt32
    public var keepaliveIntervalMillis: UInt32
    public var server: String

    public init(protocolVersion: UInt32 = Preface.version, maxFrameSize: UInt32, maxConcurrentCalls: UInt32,
                idleTimeoutMillis: UInt32, keepaliveIntervalMillis: UInt32, server: String) {
        self.protocolVersion = protocolVersion
        self.maxFrameSize = maxFrameSize
        self.maxConcurrentCalls = maxConcurrentCalls
        self.idleTimeoutMillis = idleTimeoutMillis
        self.keepaliveIntervalMillis = keepaliveIntervalMillis
        self.server = server
    }
}
