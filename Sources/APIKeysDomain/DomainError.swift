/// A refusal or failure of a domain operation, carried to the client as a gRPC status.
///
/// `code` maps 1:1 to a gRPC status code, `rule` names the spec rule that refused the call
/// (e.g. "R17") and `reason` is a stable machine-readable string (e.g. "no_license"); together
/// they fill the wire's `ErrorDetails`. `message` says exactly what is wrong or missing.
///
/// An INTERNAL error's message is generic, with an error ID; the lower layer's error is kept
/// in ``cause`` for the server's log, never sent. Equality ignores the cause.
public struct DomainError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A gRPC status code. Wraps a private enum so that codes can be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Int, Sendable, Hashable {
            case invalidArgument = 3
            case notFound = 5
            case alreadyExists = 6
            case permissionDenied = 7
            case resourceExhausted = 8
            case failedPrecondition = 9
            case `internal` = 13
            case unavailable = 14
            case unauthenticated = 16
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The gRPC status code number (e.g. 7 for PERMISSION_DENIED).
        public var rawValue: Int { wrapped.rawValue }

        public static let invalidArgument = Code(.invalidArgument)
        public static let notFound = Code(.notFound)
        public static let alreadyExists = Code(.alreadyExists)
        public static let permissionDenied = Code(.permissionDenied)
        public static let resourceExhausted = Code(.resourceExhausted)
        public static let failedPrecondition = Code(.failedPrecondition)
        public static let `internal` = Code(.internal)
        public static let unavailable = Code(.unavailable)
        public static let unauthenticated = Code(.unauthenticated)

        public var description: String {
            switch wrapped {
            case .invalidArgument: "INVALID_ARGUMENT"
            case .notFound: "NOT_FOUND"
            case .alreadyExists: "ALREADY_EXISTS"
            case .permissionDenied: "PERMISSION_DENIED"
            case .resourceExhausted: "RESOURCE_EXHAUSTED"
            case .failedPrecondition: "FAILED_PRECONDITION"
            case .internal: "INTERNAL"
            case .unavailable: "UNAVAILABLE"
            case .unauthenticated: "UNAUTHENTICATED"
            }
        }
    }

    public var code: Code
    /// Human-readable: what is wrong or missing. Never contains a secret.
    public var message: String
    /// The spec rule ID that refused the call ("R17", "X1"), or "" when none applies.
    public var rule: String
    /// Stable machine-readable reason ("no_license", "api_keys_disabled", "not_active", ...).
    public var reason: String
    /// For INTERNAL: what went wrong below (e.g. SQLite's text), to log with ``errorID``.
    /// Never put on the wire: it may describe files, queries or data.
    public var cause: String?
    /// For INTERNAL: the ID the message shows, so the client's report finds the log line.
    public var errorID: String?

    public init(_ code: Code, _ message: String, rule: String = "", reason: String) {
        self.code = code
        self.message = message
        self.rule = rule
        self.reason = reason
    }

    public static func == (a: DomainError, b: DomainError) -> Bool {
        a.code == b.code && a.message == b.message && a.rule == b.rule && a.reason == b.reason
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
        hasher.combine(rule)
        hasher.combine(reason)
    }

    /// For logs: includes the cause, which the wire never carries.
    public var description: String {
        "\(code): \(message) [\(rule.isEmpty ? "-" : rule) \(reason)]" + (cause.map { " cause: \($0)" } ?? "")
    }
}

extension DomainError {
    static func invalidArgument(_ message: String, rule: String = "", reason: String) -> DomainError {
        DomainError(.invalidArgument, message, rule: rule, reason: reason)
    }

    static func permissionDenied(_ message: String, rule: String, reason: String) -> DomainError {
        DomainError(.permissionDenied, message, rule: rule, reason: reason)
    }

    static func notFound(_ message: String, rule: String = "X1", reason: String = "not_found") -> DomainError {
        DomainError(.notFound, message, rule: rule, reason: reason)
    }

    static func unauthenticated(_ message: String, rule: String = "X13", reason: String) -> DomainError {
        DomainError(.unauthenticated, message, rule: rule, reason: reason)
    }

    /// Wraps an unexpected error from a lower layer (the store): the client gets a generic
    /// message with a fresh error ID; the cause stays out of band for the log (finding 9).
    static func `internal`(_ cause: any Error) -> DomainError {
        if let error = cause as? DomainError, error.code == .internal { return error }
        if let unavailable = cause as? StoreUnavailable {
            var error = DomainError(
                .unavailable, "the store is unavailable, try again shortly: \(unavailable.message)", reason: "store_unavailable")
            error.cause = unavailable.message
            return error
        }
        let id = String(UInt64.random(in: 0...UInt64.max), radix: 16).leftPadded(to: 16)
        var error = DomainError(.internal, "internal error; error ID \(id)", reason: "internal")
        error.cause = String(describing: cause)
        error.errorID = id
        return error
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
