public import ServiceLifecycle

/// Runs an ``APIKeysServer`` in a `ServiceGroup`: starts it, reports the bound address, and
/// on graceful shutdown (SIGTERM, SIGINT) drains calls in flight before returning.
///
/// ```swift
/// let group = ServiceGroup(services: [APIKeysServerService(server: server) { address in ... }],
///                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public struct APIKeysServerService: Service {
    let server: APIKeysServer
    let started: @Sendable (_ host: String, _ port: Int) -> Void

    public init(server: APIKeysServer, started: @escaping @Sendable (_ host: String, _ port: Int) -> Void) {
        self.server = server
        self.started = started
    }

    public func run() async throws {
        let address: (host: String, port: Int)
        do {
            address = try await server.start()
        } catch {
            await server.shutdown()
            throw error
        }
        started(address.host, address.port)
        // Returns on graceful shutdown; throws when the group is cancelled: drain either way.
        try? await gracefulShutdown()
        await server.shutdown()
    }
}

/// ServiceLifecycle's log lines name services by their description: a short name, not a dump.
extension APIKeysServerService: CustomStringConvertible {
    public var description: String { "rpc" }
}
