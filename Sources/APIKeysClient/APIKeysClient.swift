public import APIKeysWire

/// A typed client for every apikeys service, meant to live as long as the program.
///
/// ```swift
/// let client = APIKeysClient(host: "127.0.0.1", port: 7420, credential: .service(secret))
/// let verified = try await client.verify(APIKeysV1.VerifyRequest(secret: presentedKey))
/// let page = try await client.listKeys(options: CallOptions(timeout: .seconds(2), metadata: ["x-request-id": "r1"]))
/// ```
/// The typed methods are generated from proto/ (`make proto`) into
/// `Generated/APIKeysClient+Methods.swift`, each with per-call ``CallOptions``.
/// It connects lazily, keeps a small pool of connections (``Configuration/poolSize``),
/// reconnects with jittered backoff when the server restarts, moves new calls to a fresh
/// connection when the server sends GoAway, and sends again the calls the server reports
/// as not run. Run it in a `ServiceGroup` (it is a `Service`) or use
/// ``withAPIKeysClient(host:port:credential:configuration:_:)``; ``close()`` ends it.
/// Every method throws `RPCError` with a status code, whatever failed: the server's
/// status, a refused connection (UNAVAILABLE), a handshake timeout (UNAVAILABLE), the
/// call's deadline (DEADLINE_EXCEEDED).
public struct APIKeysClient: Sendable {
    let transport: Transport
    public var credential: Credential
    /// Applied to every call unless a call passes its own.
    public var timeout: Duration?

    /// Where calls go: the reconnecting pool, or one connection the caller made.
    enum Transport: Sendable {
        case pool(ConnectionPool)
        case connection(RPCConnection)
    }

    /// A client of the server at `host:port`; it connects on its first call.
    public init(host: String, port: Int, credential: Credential = .none, configuration: Configuration = .defaults) {
        transport = .pool(ConnectionPool(host: host, port: port, configuration: configuration))
        self.credential = credential
        timeout = configuration.timeout
    }

    /// Over one connection the caller opened, without reconnecting (tools that run one
    /// command and manage their own connect).
    public init(connection: RPCConnection, credential: Credential = .none, timeout: Duration? = .seconds(30)) {
        transport = .connection(connection)
        self.credential = credential
        self.timeout = timeout
    }

    /// A client whose first connection is already open: fails at once (UNAVAILABLE) when
    /// the server cannot be reached. `tls` is nil for plain TCP, else `.server(trustRoots:)`
    /// or `.mutual(...)`.
    public static func connect(host: String, port: Int, credential: Credential = .none,
                               tls: RPCConnection.Configuration.TLS? = nil) async throws -> APIKeysClient {
        var configuration = Configuration()
        configuration.tls = tls
        return try await connect(host: host, port: port, credential: credential, configuration: configuration)
    }

    public static func connect(host: String, port: Int, credential: Credential = .none,
                               configuration: Configuration) async throws -> APIKeysClient {
        let client = APIKeysClient(host: host, port: port, credential: credential, configuration: configuration)
        if case .pool(let pool) = client.transport { try await pool.connectNow() }
        return client
    }

    /// The same connections acting as someone else.
    public func acting(as credential: Credential) -> APIKeysClient {
        var copy = self
        copy.credential = credential
        return copy
    }

    /// Closes every connection at once (every copy of this client shares them); calls still
    /// running fail, later ones fail CANCELLED.
    public func close() async {
        switch transport {
        case .pool(let pool): await pool.close()
        case .connection(let connection): await connection.close()
        }
    }

    /// Connections opened, retries, calls per open connection.
    public var statistics: Statistics {
        switch transport {
        case .pool(let pool): return pool.statistics
        case .connection(let connection):
            return Statistics(connectionsOpened: 1, openConnections: connection.acceptsCalls ? 1 : 0)
        }
    }

    /// Calls `method` with metadata of the caller's own instead of the credential's (generic
    /// callers, tests of hostile metadata).
    public func call<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: String, _ request: Request, metadata: [String: String], timeout: Duration? = nil,
        as: Response.Type = Response.self
    ) async throws -> Response {
        try await invoke(method, request, metadata: metadata, timeout: timeout ?? self.timeout)
    }

    /// Calls `method` with an encoded request; the response frame of an OK call (generic
    /// callers such as `apikeys call`). `metadata` nil sends the credential's.
    public func call(_ method: String, message: [UInt8], metadata: [String: String]? = nil,
                     timeout: Duration? = nil) async throws -> ResponseFrame {
        let metadata = metadata ?? credential.metadata
        let timeout = timeout ?? self.timeout
        switch transport {
        case .connection(let connection):
            return try await connection.call(method, message: message, metadata: metadata, timeout: timeout)
        case .pool(let pool):
            return try await pool.call(method, message: message, metadata: metadata, timeout: timeout, idempotent: false)
        }
    }

    /// The limits the server announced (connecting first if no connection is open).
    public func serverSettings() async throws -> ServerSettings {
        switch transport {
        case .connection(let connection): return connection.serverSettings
        case .pool(let pool): return try await pool.serverSettings()
        }
    }

    /// The one primitive every typed method calls (generated into
    /// `Generated/APIKeysClient+Methods.swift` from proto/). The credential's metadata goes
    /// first, `options.metadata` over it; the call gets the sooner of `options.timeout` (else
    /// the client's `timeout`) and `options.deadline`. A method whose idempotency_level says
    /// it may be repeated is sent again when a broken connection cut it off; calls the server
    /// did not run are sent again whatever the method.
    public func invoke<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>, _ request: Request, options: CallOptions = CallOptions()
    ) async throws -> Response {
        let metadata = options.metadata.isEmpty
            ? credential.metadata : credential.metadata.merging(options.metadata) { _, perCall in perCall }
        return try await invoke(method.path, request, metadata: metadata, timeout: try options.effectiveTimeout(default: timeout),
                                idempotent: method.idempotency != .unknown)
    }

    private func invoke<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: String, _ request: Request, metadata: [String: String], timeout: Duration?, idempotent: Bool = false
    ) async throws -> Response {
        switch transport {
        case .connection(let connection):
            return try await connection.call(method, request, metadata: metadata, timeout: timeout)
        case .pool(let pool):
            let reply = try await pool.call(method, message: request.serializedBytes(), metadata: metadata,
                                            timeout: timeout, idempotent: idempotent)
            do {
                return try Response(serializedBytes: reply.message)
            } catch {
                throw RPCError(code: .internal, message: "the server's reply is not a valid \(Response.protoName): \(error.message)")
            }
        }
    }
}
