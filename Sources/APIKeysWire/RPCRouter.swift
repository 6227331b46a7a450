/// What a handler knows of its call.
public struct ServerCall: Sendable {
    public let callID: UInt64
    public let method: String
    /// Request metadata, keys lower-case (e.g. `authorization`).
    public let metadata: [String: String]
    /// When the client's deadline passes, if it set one.
    public let deadline: ContinuousClock.Instant?
    /// Calls running on this connection when this one started, itself included.
    public let callsInFlight: Int
    /// Under mutual TLS, the subject alternative name URIs of the client's verified
    /// certificate (e.g. `spiffe://example.org/gateway`), in certificate order. Only URIs:
    /// identity comes from one explicit kind of name, never the Common Name or a DNS name,
    /// which a certificate issued for another purpose may carry. Empty without mutual TLS.
    public let peerCertificateURIs: [String]
    /// Set when the server keeps an access log: the handler says who called here.
    public let annotations: CallAnnotations?

    public init(callID: UInt64, method: String, metadata: [String: String], deadline: ContinuousClock.Instant?, callsInFlight: Int,
                peerCertificateURIs: [String] = [], annotations: CallAnnotations? = nil) {
        self.callID = callID
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.callsInFlight = callsInFlight
        self.peerCertificateURIs = peerCertificateURIs
        self.annotations = annotations
    }
}

/// Maps method paths (`/apikeys.v1.Keys/Generate`) to handlers. A value type built once
/// through `register` and then shared by every connection. The generated
/// `APIKeysV1.<Service>.register(_:in:)` registers every method of a service's handler.
///
/// ```swift
/// var router = RPCRouter()
/// router.register(APIKeysV1.Health.Method.check) { _, _ in
///     APIKeysV1.HealthCheckResponse(status: .serving)
/// }
/// ```
public struct RPCRouter: Sendable {
    public typealias AsyncHandler = @Sendable (_ message: [UInt8], _ call: ServerCall) async throws -> [UInt8]
    /// Encodes its response into `response`, replacing what it held: the connection lends one
    /// array for every call, so an answer costs no allocation of its own (issue 14, goal 3).
    public typealias SyncHandler = @Sendable (_ message: [UInt8], _ call: ServerCall, _ response: inout [UInt8]) throws -> Void

    enum Handler: Sendable {
        case async(AsyncHandler)
        /// Runs on the connection's event loop: for handlers that never block (memory only).
        case sync(SyncHandler)
    }

    private var handlers: [String: Handler] = [:]
    private var services: Set<Substring> = []

    public init() {}

    public var methods: [String] { handlers.keys.sorted() }

    /// Registers a handler that may suspend; it runs in its own task.
    public mutating func register<Input: ProtoMessage, Output: ProtoMessage>(
        _ method: String,
        _ body: @escaping @Sendable (Input, ServerCall) async throws -> Output
    ) {
        add(method, .async { bytes, call in
            let input = try Input(serializedBytes: bytes)
            return try await body(input, call).serializedBytes()
        })
    }

    /// Registers a handler for a generated method descriptor; it may suspend.
    public mutating func register<Input: ProtoMessage, Output: ProtoMessage>(
        _ method: MethodDescriptor<Input, Output>,
        _ body: @escaping @Sendable (Input, ServerCall) async throws -> Output
    ) {
        register(method.path, body)
    }

    /// Registers a handler for a generated method descriptor that never blocks (see the
    /// `String` form).
    public mutating func registerNonBlocking<Input: ProtoMessage, Output: ProtoMessage>(
        _ method: MethodDescriptor<Input, Output>,
        _ body: @escaping @Sendable (Input, ServerCall) throws -> Output
    ) {
        registerNonBlocking(method.path, body)
    }

    /// Registers a handler that never blocks; it runs inline on the event loop, which
    /// saves a task and two thread hops per call (the Verify hot path).
    public mutating func registerNonBlocking<Input: ProtoMessage, Output: ProtoMessage>(
        _ method: String,
        _ body: @escaping @Sendable (Input, ServerCall) throws -> Output
    ) {
        add(method, .sync { bytes, call, response in
            let input = try Input(serializedBytes: bytes)
            try body(input, call).serialize(into: &response)
        })
    }

    private mutating func add(_ method: String, _ handler: Handler) {
        precondition(Self.service(of: method) != nil, "method \(method) must look like /package.Service/Method")
        handlers[method] = handler
        services.insert(Self.service(of: method)!)
    }

    /// The handler for `method`, or the UNIMPLEMENTED error naming what is unknown, quoting
    /// at most `EchoedText.limit` bytes of it in all.
    func handler(for method: String) -> Result<Handler, RPCError> {
        if let handler = handlers[method] { return .success(handler) }
        guard let service = Self.service(of: method) else {
            return .failure(RPCError(code: .unimplemented, message: "'\(EchoedText.quote(method))' is not a method path of the form /package.Service/Method"))
        }
        if services.contains(service) {
            // A known service is ours, so only the method name is the caller's.
            let name = method[method.utf8.index(after: service.endIndex)...]
            return .failure(RPCError(code: .unimplemented, message: "service \(service) has no method '\(EchoedText.quote(name))'"))
        }
        return .failure(RPCError(code: .unimplemented, message: "unknown service \(EchoedText.quote(service))"))
    }

    /// The service of a path `/service/method`, both non-empty; nil for anything else. One
    /// pass over the bytes: a 1 MiB path must not cost grapheme breaking or generic scans.
    static func service(of method: String) -> Substring? {
        var path = method
        let secondSlash: Int? = path.withUTF8 { bytes in
            let slash = UInt8(ascii: "/")
            guard bytes.count > 3, bytes[0] == slash else { return nil }
            var found: Int?
            for i in 1..<bytes.count where bytes[i] == slash {
                guard found == nil else { return nil }  // a third slash
                found = i
            }
            guard let found, found > 1, found < bytes.count - 1 else { return nil }
            return found
        }
        guard let secondSlash else { return nil }
        let utf8 = method.utf8
        return method[utf8.index(after: utf8.startIndex)..<utf8.index(utf8.startIndex, offsetBy: secondSlash)]
    }

    /// Turns what a handler threw into the status the client gets.
    static func status(for error: any Error) -> RPCError {
        switch error {
        case let error as RPCError:
            return error
        case let error as WireError:
            return RPCError(code: .invalidArgument, message: "the request message could not be decoded: \(error.message)")
        case is CancellationError:
            return RPCError(code: .cancelled, message: "the call was cancelled")
        default:
            // Unknown errors may carry internals; the client gets none of it.
            return RPCError(code: .internal, message: "the server failed to handle the call")
        }
    }
}
