import APIKeysClient
import APIKeysWire

/// The one connection to apikeysd that every page shares (the protocol multiplexes calls),
/// opened again when it has closed.
actor Backend {
    private let host: String
    private let port: Int
    private let serviceCredential: String
    private var client: APIKeysClient?
    private var connecting: Task<APIKeysClient, any Error>?

    init(host: String, port: Int, serviceCredential: String) {
        self.host = host
        self.port = port
        self.serviceCredential = serviceCredential
    }

    /// A client acting for `session`'s user through the console's service credential (X13):
    /// apikeysd reads the user's roles and license at every call, so the console decides
    /// nothing about access itself.
    func client(for session: Session) async throws -> APIKeysClient {
        try await connection().acting(as: .service(serviceCredential, tenant: session.tenantID, user: session.userID))
    }

    private func connection() async throws -> APIKeysClient {
        if let client, client.connection.isActive { return client }
        // Pages that arrive while the connection opens wait for the same attempt.
        if let connecting { return try await connecting.value }
        let old = client
        let (host, port) = (self.host, self.port)
        let attempt = Task {
            await old?.close()
            return try await APIKeysClient.connect(host: host, port: port)
        }
        connecting = attempt
        defer { connecting = nil }
        let fresh = try await attempt.value
        client = fresh
        return fresh
    }

    func close() async {
        await client?.close()
        client = nil
    }
}
