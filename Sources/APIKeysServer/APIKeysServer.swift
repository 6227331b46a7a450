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
    /// One thread for the usage flush, at idle priority (``BackgroundPriority``).
    private let flushPool: NIOThreadPool
    private let logger: Logger
    private let flushInterval: Duration
    private let flusher = FlushTask()
    /// Set when this start created the operator credential on an empty data directory:
    /// the one time it can be shown.
    public let newOperatorCredential: String?

    public init(configuration: ServerConfiguration, logger: Logger) throws {
        self.logger = logger
        self.flushInterval = configuration.usageFlushInterval
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let path = (configuration.dataDirectory as NSString).appendingPathComponent("apikeys.sqlite")
        let store = try SQLiteKeyStore(path: path)
        service = try APIKeyService(store: store)
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
        flushPool = NIOThreadPool(numberOfThreads: 1)
        flushPool.start()
        var router = RPCRouter()
        HealthService.register(in: &router)
        APIRoutes(service: service, pool: pool, certificateServices: configuration.certificateServices).register(in: &router)
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
        let service = self.service
        let logger = self.logger
        let interval = flushInterval
        let flushPool = self.flushPool
        flusher.start {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                // A flush writes to SQLite: on its own thread, not a cooperative one, and
                // only when the event loops leave the CPU free, so Verify keeps its latency.
                try? await flushPool.runIfActive {
                    BackgroundPriority.applyToCurrentThread()
                    Self.flush(service, logger: logger)
                }
            }
        }
        return (address.ipAddress ?? "?", address.port ?? 0)
    }

    /// Graceful shutdown: GOAWAY, calls in flight finish, then usage is flushed.
    public func shutdown() async {
        await rpc.shutdown()
        await flusher.stop()
        Self.flush(service, logger: logger)
        try? await pool.shutdownGracefully()
        try? await flushPool.shutdownGracefully()
    }

    private static func flush(_ service: APIKeyService, logger: Logger) {
        do {
            try service.flushPending()
        } catch {
            logger.error("could not store usage counters and verification events", metadata: ["error": "\(error)"])
        }
    }
}

/// The background task that flushes usage, cancellable on shutdown.
private final class FlushTask: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    func start(_ body: @escaping @Sendable () async -> Void) {
        task.withLock { $0 = Task(operation: body) }
    }

    func stop() async {
        let running = task.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        running?.cancel()
        await running?.value
    }
}
