import APIKeysWire
public import ServiceLifecycle

extension APIKeysClient: Service {
    /// Runs until the service group shuts down: then the client takes no new calls, lets
    /// the calls in flight finish (up to `connectionWait`), and closes its connections.
    /// Calls work whether or not this runs; it ties the client's end to the group's.
    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            // Cancelled: no grace.
            await close()
            return
        }
        switch transport {
        case .pool(let pool): await pool.shutdownGracefully(grace: pool.configuration.connectionWait)
        case .connection(let connection): await connection.close()
        }
    }
}

/// Runs `body` with a client of the server at `host:port`, and closes it after, also when
/// `body` throws: for tools and tests.
///
/// ```swift
/// let principal = try await withAPIKeysClient(host: "127.0.0.1", port: 7420, credential: .service(secret)) { client in
///     try await client.verify(APIKeysV1.VerifyRequest(secret: presentedKey)).principal
/// }
/// ```
public func withAPIKeysClient<Result>(
    host: String, port: Int, credential: Credential = .none, configuration: APIKeysClient.Configuration = .defaults,
    _ body: (APIKeysClient) async throws -> Result
) async throws -> Result {
    let client = APIKeysClient(host: host, port: port, credential: credential, configuration: configuration)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}
