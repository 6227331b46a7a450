/// gRPC's status codes: the same numbers and names (`Code` in frame.proto).
public struct StatusCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    public static let ok = StatusCode(rawValue: 0)
    public static let cancelled = StatusCode(rawValue: 1)
    public static let unknown = StatusCode(rawValue: 2)
    public static let invalidArgument = StatusCode(rawValue: 3)
    public static let deadlineExceeded = StatusCode(rawValue: 4)
    public static let notFound = StatusCode(rawValue: 5)
    public static let alreadyExists = StatusCode(rawValue: 6)
    public static let permissionDenied = StatusCode(rawValue: 7)
    public static let resourceExhausted = StatusCode(rawValue: 8)
    public static let failedPrecondition = StatusCode(rawValue: 9)
    public static let aborted = StatusCode(rawValue: 10)
    public static let outOfRange = StatusCode(rawValue: 11)
    public static let unimplemented = StatusCode(rawValue: 12)
    public static let `internal` = StatusCode(rawValue: 13)
    public static let unavailable = StatusCode(rawValue: 14)
    public static let dataLoss = StatusCode(rawValue: 15)
    public static let unauthenticated = StatusCode(rawValue: 16)

    private static let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    ]

    /// The gRPC name, e.g. `PERMISSION_DENIED`.
    public var description: String {
        Self.names.indices.contains(Int(rawValue)) ? Self.names[Int(rawValue)] : "CODE_\(rawValue)"
    }
}

/// The outcome of a call that did not succeed: a status code, a message, and
/// optional details (an encoded `APIKeysV1.ErrorDetails`).
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    public var details: [UInt8]

    public init(code: StatusCode, message: String, details: [UInt8] = []) {
        self.code = code
        self.message = message
        self.details = details
    }

    public init(code: StatusCode, message: String, rule: String, reason: String) {
        self.init(code: code, message: message, details: APIKeysV1.ErrorDetails(rule: rule, reason: reason).serializedBytes())
    }

    /// The decoded details, when the server sent an `APIKeysV1.ErrorDetails`.
    public var errorDetails: APIKeysV1.ErrorDetails? {
        details.isEmpty ? nil : try? APIKeysV1.ErrorDetails(serializedBytes: details)
    }

    public var description: String { "\(code): \(message)" }
}
