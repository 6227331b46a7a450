public import APIKeysWire

/// A typed client for every apikeys service over one connection.
///
/// ```swift
/// let client = try await APIKeysClient.connect(host: "127.0.0.1", port: 7420,
///                                              credential: .service(secret, tenant: "acme", user: "bob"))
/// let generated = try await client.generateKey(GenerateKeyRequest(name: "ci"))
/// print(generated.secret)   // shown once (R18)
/// ```
/// Every method throws `RPCError` with the server's status on failure.
public struct APIKeysClient: Sendable {
    public let connection: RPCConnection
    public var credential: Credential
    /// Applied to every call unless a call passes its own.
    public var timeout: Duration?

    public init(connection: RPCConnection, credential: Credential = .none, timeout: Duration? = .seconds(30)) {
        self.connection = connection
        self.credential = credential
        self.timeout = timeout
    }

    /// Connects; `tls` is nil for plain TCP, else `.server(trustRoots:)` or `.mutual(...)`.
    public static func connect(host: String, port: Int, credential: Credential = .none,
                               tls: RPCConnection.Configuration.TLS? = nil) async throws -> APIKeysClient {
        var configuration = RPCConnection.Configuration()
        configuration.tls = tls
        return APIKeysClient(connection: try await RPCConnection.connect(host: host, port: port, configuration: configuration),
                             credential: credential)
    }

    /// The same connection acting as someone else.
    public func acting(as credential: Credential) -> APIKeysClient {
        var copy = self
        copy.credential = credential
        return copy
    }

    public func close() async {
        await connection.close()
    }

    func invoke<Request: ProtoMessage, Response: ProtoMessage>(_ method: String, _ request: Request) async throws -> Response {
        try await connection.call(method, request, metadata: credential.metadata, timeout: timeout)
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
