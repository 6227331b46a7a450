import APIKeysWire
import NIOCore
public import Logging

/// The apikeys server: the RPC server with every service registered.
///
/// ```swift
/// let server = try APIKeysServer(configuration: .defaults, logger: logger)
/// let address = try await server.start()
/// ...
/// await server.shutdown()
/// ```
public final class APIKeysServer: Sendable {
    private let rpc: RPCServer
    private let logger: Logger

    public init(configuration: ServerConfiguration, logger: Logger) throws {
        self.logger = logger
        var router = RPCRouter()
        HealthService.register(in: &router)
        if configuration.conformance {
            ConformanceService.register(in: &router)
        }
        rpc = RPCServer(router: router, configuration: configuration.rpc)
    }

    /// Starts listening; returns the bound address, e.g. `127.0.0.1:7420`.
    public func start() async throws -> (host: String, port: Int) {
        let address = try await rpc.start()
        return (address.ipAddress ?? "?", address.port ?? 0)
    }

    /// Graceful shutdown: GOAWAY, calls in flight finish, then the store is flushed and closed.
    public func shutdown() async {
        await rpc.shutdown()
    }
}
