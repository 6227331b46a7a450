/// Whether a call may be sent again when the connection broke before its answer: the
/// proto's `idempotency_level` option (`google.protobuf.MethodOptions.IdempotencyLevel`).
public enum Idempotency: Sendable, Hashable {
    /// No option: the call may have changed something, so it is never sent twice.
    case unknown
    /// `NO_SIDE_EFFECTS`: reads only.
    case noSideEffects
    /// `IDEMPOTENT`: sending it twice has the effect of sending it once.
    case idempotent
}

/// One method of a service, without its message types: what tables and lists are keyed by.
/// Two are equal when their paths are.
public struct RPCMethod: Sendable, Hashable, CustomStringConvertible {
    /// The full service name, e.g. `apikeys.v1.Keys`.
    public let service: String
    /// The method name, e.g. `Generate`.
    public let name: String
    /// What goes in a request frame: `/service/method`.
    public let path: String
    public let idempotency: Idempotency

    public init(service: String, method: String, path: String, idempotency: Idempotency) {
        self.service = service
        self.name = method
        self.path = path
        self.idempotency = idempotency
    }

    public static func == (lhs: RPCMethod, rhs: RPCMethod) -> Bool { lhs.path == rhs.path }
    public func hash(into hasher: inout Hasher) { hasher.combine(path) }
    public var description: String { path }
}

/// A method with its request and response types, generated per RPC of proto/ into
/// `APIKeysV1.<Service>.Method` (Generated/Services.swift).
///
/// ```swift
/// let verify = APIKeysV1.Verification.Method.verify
/// verify.path         // /apikeys.v1.Verification/Verify
/// verify.idempotency  // .idempotent
/// ```
public struct MethodDescriptor<Request: ProtoMessage, Response: ProtoMessage>: Sendable, Hashable {
    public let rpc: RPCMethod

    public init(service: String, method: String, path: String, idempotency: Idempotency) {
        rpc = RPCMethod(service: service, method: method, path: path, idempotency: idempotency)
    }

    public var path: String { rpc.path }
    public var service: String { rpc.service }
    public var name: String { rpc.name }
    public var idempotency: Idempotency { rpc.idempotency }
}
