public import APIKeysWire

/// A typed client for every apikeys service, meant to live as long as the program.
///
/// ```swift
/// let client = APIKeysClient(host: "127.0.0.1", port: 7420, credential: .service(secret))
/// let verified = try await client.verify(VerifyRequest(secret: presentedKey))
/// ```
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

    /// The one primitive every typed method calls. `idempotent` (from the method's
    /// idempotency_level in proto/) lets a call cut off by a broken connection be sent again;
    /// calls the server did not run are sent again whatever the method.
    func invoke<Request: ProtoMessage, Response: ProtoMessage>(_ method: String, _ request: Request,
                                                                idempotent: Bool = false) async throws -> Response {
        try await invoke(method, request, metadata: credential.metadata, timeout: timeout, idempotent: idempotent)
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

    // MARK: - Health

    public func health() async throws -> HealthCheckResponse {
        try await invoke("/apikeys.v1.Health/Check", HealthCheckRequest())
    }

    // MARK: - Directory

    public func createTenant(_ request: CreateTenantRequest) async throws -> CreateTenantResponse {
        try await invoke("/apikeys.v1.Directory/CreateTenant", request)
    }

    public func createUser(_ request: CreateUserRequest) async throws -> CreateUserResponse {
        try await invoke("/apikeys.v1.Directory/CreateUser", request)
    }

    public func removeUser(_ request: RemoveUserRequest) async throws -> RemoveUserResponse {
        try await invoke("/apikeys.v1.Directory/RemoveUser", request)
    }

    public func createServiceCredential(_ request: CreateServiceCredentialRequest) async throws -> CreateServiceCredentialResponse {
        try await invoke("/apikeys.v1.Directory/CreateServiceCredential", request)
    }

    public func createOperatorCredential(_ request: CreateOperatorCredentialRequest) async throws -> CreateOperatorCredentialResponse {
        try await invoke("/apikeys.v1.Directory/CreateOperatorCredential", request)
    }

    public func listCredentials(_ request: ListCredentialsRequest = ListCredentialsRequest()) async throws -> ListCredentialsResponse {
        try await invoke("/apikeys.v1.Directory/ListCredentials", request)
    }

    public func rotateCredential(_ request: RotateCredentialRequest) async throws -> RotateCredentialResponse {
        try await invoke("/apikeys.v1.Directory/RotateCredential", request)
    }

    public func revokeCredential(_ request: RevokeCredentialRequest) async throws -> RevokeCredentialResponse {
        try await invoke("/apikeys.v1.Directory/RevokeCredential", request)
    }

    public func assignRole(_ request: AssignRoleRequest) async throws -> UserResponse {
        try await invoke("/apikeys.v1.Directory/AssignRole", request)
    }

    public func removeRole(_ request: RemoveRoleRequest) async throws -> UserResponse {
        try await invoke("/apikeys.v1.Directory/RemoveRole", request)
    }

    public func setLicense(_ request: SetLicenseRequest) async throws -> UserResponse {
        try await invoke("/apikeys.v1.Directory/SetLicense", request)
    }

    public func getUser(_ request: GetUserRequest) async throws -> UserResponse {
        try await invoke("/apikeys.v1.Directory/GetUser", request)
    }

    public func listUsers(_ request: ListUsersRequest = ListUsersRequest()) async throws -> ListUsersResponse {
        try await invoke("/apikeys.v1.Directory/ListUsers", request)
    }

    // MARK: - Settings

    public func getSettings() async throws -> GetSettingsResponse {
        try await invoke("/apikeys.v1.Settings/Get", GetSettingsRequest())
    }

    public func updateSettings(_ request: UpdateSettingsRequest) async throws -> UpdateSettingsResponse {
        try await invoke("/apikeys.v1.Settings/Update", request)
    }

    // MARK: - Keys

    public func generateKey(_ request: GenerateKeyRequest) async throws -> GenerateKeyResponse {
        try await invoke("/apikeys.v1.Keys/Generate", request)
    }

    public func listKeys(_ request: ListKeysRequest = ListKeysRequest()) async throws -> ListKeysResponse {
        try await invoke("/apikeys.v1.Keys/List", request)
    }

    public func getKey(_ request: GetKeyRequest) async throws -> GetKeyResponse {
        try await invoke("/apikeys.v1.Keys/Get", request)
    }

    public func renameKey(_ request: RenameKeyRequest) async throws -> RenameKeyResponse {
        try await invoke("/apikeys.v1.Keys/Rename", request)
    }

    public func revokeKey(_ request: RevokeKeyRequest) async throws -> RevokeKeyResponse {
        try await invoke("/apikeys.v1.Keys/Revoke", request)
    }

    public func revokeKeys(_ request: RevokeKeysRequest) async throws -> RevokeKeysResponse {
        try await invoke("/apikeys.v1.Keys/RevokeMany", request)
    }

    public func deleteKey(_ request: DeleteKeyRequest) async throws -> DeleteKeyResponse {
        try await invoke("/apikeys.v1.Keys/Delete", request)
    }

    // MARK: - Verification and events

    public func verify(_ request: VerifyRequest) async throws -> VerifyResponse {
        try await invoke("/apikeys.v1.Verification/Verify", request)
    }

    public func listEvents(_ request: ListEventsRequest = ListEventsRequest()) async throws -> ListEventsResponse {
        try await invoke("/apikeys.v1.Events/List", request)
    }
}
