public import APIKeysWire

/// Everything `apikeysd` can be told, with defaults for `make run`.
public struct ServerConfiguration: Sendable {
    /// Address, limits and timeouts of the RPC protocol.
    public var rpc = RPCServerConfiguration()
    /// Where the SQLite database lives; created when missing.
    public var dataDirectory = "data"
    /// Registers the `Conformance` test service.
    public var conformance = false
    /// Service credentials from configuration: name (the actor in events) to secret (X13).
    public var serviceCredentials: [String: String] = [:]
    /// Under mutual TLS (`rpc.tls = .mutual(...)`): a name in a client's verified certificate
    /// (its Common Name, or a subject alternative DNS name or URI) to the service that
    /// certificate authenticates (X13). A call on such a connection with no `authorization`
    /// acts as that service. Certificates naming none of these get no identity.
    public var certificateServices: [String: String] = [:]
    /// An operator credential from configuration, accepted besides the stored one.
    public var operatorCredential: String?
    /// How often verification usage counters and events are written (X9); a crash loses
    /// at most this much of them.
    public var usageFlushInterval: Duration = .seconds(1)

    public init() {}

    public static var defaults: ServerConfiguration { ServerConfiguration() }
}
