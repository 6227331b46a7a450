import APIKeysDomain
import APIKeysStorage
import APIKeysWire
import Foundation
public import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The apikeys server: the RPC server with every service registered, over the SQLite store.
///
/// ```swift
/// let server = try APIKeysServer(configuration: .defaults, logger: logger)
/// if let secret = server.newOperatorCredential { print it once }
/// let address = try await server.start()
/// ...
/// await server.shutdown()
/// ```
public final class APIKeysServer: Sendable {
    private let rpc: RPCServer
    private let service: APIKeyService
    private let pool: NIOThreadPool
    private let logger: Logger
    private let flusher: UsageFlushThread
    /// Set when this start created the operator credential on an empty data directory:
    /// the one time it can be shown.
    public let newOperatorCredential: String?

    public init(configuration: ServerConfiguration, logger: Logger) throws {
        self.logger = logger
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let path = (configuration.dataDirectory as NSString).appendingPathComponent("apikeys.sqlite")
        var storeConfiguration = SQLiteKeyStore.Configuration()
        storeConfiguration.usageWritesAtIdlePriority = true
        let store = try SQLiteKeyStore(path: path, configuration: storeConfiguration)
        let service = try APIKeyService(store: store)
        self.service = service
        newOperatorCredential = try service.bootstrap()
        for (name, secret) in configuration.serviceCredentials {
            try service.addConfiguredServiceCredential(name: name, secret: secret)
        }
        if let secret = configuration.operatorCredential {
            try service.addConfiguredOperatorCredential(secret: secret)
        }

        // Domain calls block on SQLite: they run here, never on an event loop.
        pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        flusher = UsageFlushThread(interval: configuration.usageFlushInterval) { [logger] in
            Self.flush(service, logger: logger)
        }
        var router = RPCRouter()
        HealthService.register(in: &router)
        let certificateServices = configuration.certificateServices.mapValues {
            ServiceIdentity(name: $0, credentialID: "certificate:\($0)")
        }
        APIRoutes(service: service, pool: pool, certificateServices: certificateServices).register(in: &router)
        if configuration.conformance {
            ConformanceService.register(in: &router)
        }
        rpc = RPCServer(router: router, configuration: configuration.rpc)
        logger.info("opened store", metadata: ["path": "\(path)"])
        if configuration.rpc.tls?.requiresClientCertificate != true, !configuration.certificateServices.isEmpty {
            logger.warning("certificate services are configured but client certificates are not required (mutual TLS): they are ignored")
        }
    }

    /// Starts listening; returns the bound address, e.g. `127.0.0.1:7420`.
    public func start() async throws -> (host: String, port: Int) {
        let address = try await rpc.start()
        flusher.start()
        return (address.ipAddress ?? "?", address.port ?? 0)
    }

    /// Graceful shutdown: GOAWAY, calls in flight finish, then usage is flushed.
    public func shutdown() async {
        await rpc.shutdown()
        // The flush thread writes what is left and ends; waited for on the pool, not a
        // cooperative thread.
        let flusher = self.flusher
        try? await pool.runIfActive { flusher.stop() }
        try? await pool.shutdownGracefully()
    }

    private static func flush(_ service: APIKeyService, logger: Logger) {
        do {
            try service.flushPending()
        } catch {
            logger.error("could not store usage counters and verification events", metadata: ["error": "\(error)"])
        }
    }
}
