import APIKeysDomain
import APIKeysStorage
import APIKeysWire
import CoreMetrics
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
    private let dataDirectory: DataDirectory
    private let metrics: ServerMetrics?
    /// What `/readyz` and `Health/Check` ask.
    public let readiness: Readiness
    /// Where the SQLite database lives, for the start-up lines.
    public var databasePath: String { dataDirectory.databasePath }
    /// Set when this start created the operator credential on an empty data directory:
    /// the one time it can be shown.
    public let newOperatorCredential: String?
    /// Set when this start created the operator credential and wrote it to
    /// `ServerConfiguration.operatorCredentialOutput` instead.
    public let operatorCredentialWrittenTo: String?

    public init(configuration: ServerConfiguration, logger: Logger) throws {
        self.logger = logger
        // X21: the lock comes first, so a second server stops before it touches the database.
        let dataDirectory = try DataDirectory(path: configuration.dataDirectory)
        self.dataDirectory = dataDirectory
        let path = dataDirectory.databasePath
        var storeConfiguration = SQLiteKeyStore.Configuration()
        storeConfiguration.usageWritesAtIdlePriority = true
        let store = try SQLiteKeyStore(path: path, configuration: storeConfiguration)
        dataDirectory.tightenSideFiles()
        let service = try APIKeyService(store: store)
        self.service = service
        for problem in service.identifierProblems {
            logger.warning("stored identifiers break X15 (NFC only)", metadata: ["problem": "\(problem)"])
        }
        let created = try Self.bootstrap(service, store: store, output: configuration.operatorCredentialOutput)
        newOperatorCredential = configuration.operatorCredentialOutput == nil ? created : nil
        operatorCredentialWrittenTo = created == nil ? nil : configuration.operatorCredentialOutput
        for credential in configuration.serviceCredentials {
            try service.addConfiguredServiceCredential(
                name: credential.name, secret: credential.secret, scope: credential.scope, tenants: credential.tenants)
        }
        if let secret = configuration.operatorCredential {
            try service.addConfiguredOperatorCredential(secret: secret)
        }

        // Domain calls block on SQLite: they run here, never on an event loop.
        pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        let metrics = configuration.metrics ? ServerMetrics() : nil
        self.metrics = metrics
        metrics?.indexSize.record(service.indexedKeyCount)
        let lastFlush = LastFlush()
        let retention = EventRetention(retention: configuration.eventRetention)
        flusher = UsageFlushThread(interval: configuration.usageFlushInterval) { [logger] in
            Self.flush(service, logger: logger, metrics: metrics, lastFlush: lastFlush)
            retention.runIfDue(service, logger: logger)
        }
        readiness = Readiness(service: service, databasePath: path)
        var router = RPCRouter()
        HealthService.register(in: &router, readiness: readiness, pool: pool)
        let certificateServices = CertificateServices(entries: configuration.certificateServices)
        APIRoutes(service: service, pool: pool, certificateServices: certificateServices, logger: logger, metrics: metrics)
            .register(in: &router)
        if configuration.conformance {
            ConformanceService.register(in: &router)
        }
        rpc = RPCServer(router: router, configuration: configuration.rpc,
                        observer: Self.observer(logger: logger, accessLog: configuration.accessLog, metrics: metrics))
        logger.info("opened store", metadata: ["path": "\(path)", "keys": "\(service.indexedKeyCount)"])
        if configuration.rpc.tls?.requiresClientCertificate != true, !configuration.certificateServices.isEmpty {
            logger.warning("certificate services are configured but client certificates are not required (mutual TLS): they are ignored")
        }
    }

    /// X7, X18: creates the operator credential on a store that has none and returns it. With
    /// `output`, the secret is also written to that new file (0600), which is created before
    /// the credential, so an existing file stops the start with nothing generated.
    private static func bootstrap(_ service: APIKeyService, store: SQLiteKeyStore, output: String?) throws -> String? {
        guard let output else { return try service.bootstrap() }
        guard try !store.hasOperatorCredential() else { return nil }
        let fd = open(output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            let why = code == EEXIST ? "it exists, and is never overwritten" : String(cString: strerror(code))
            throw DataDirectoryError.refused("cannot create the operator credential file \(output): \(why)")
        }
        defer { close(fd) }
        do {
            guard fchmod(fd, 0o600) == 0 else { throw DataDirectoryError.system("chmod \(output)", errno) }
            guard let secret = try service.bootstrap() else { return nil }
            let bytes = Array((secret + "\n").utf8)
            guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
                throw DataDirectoryError.system("write \(output)", errno)
            }
            return secret
        } catch {
            unlink(output)
            throw error
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
        logger.info("shutting down: finishing calls in flight")
        await rpc.shutdown()
        // The flush thread writes what is left and ends; waited for on the pool, not a
        // cooperative thread.
        let flusher = self.flusher
        try? await pool.runIfActive { flusher.stop() }
        try? await pool.shutdownGracefully()
        dataDirectory.release()
    }

    /// SIGHUP: re-reads the TLS files; new connections get them, open ones keep theirs.
    /// Returns false when the server has no TLS. Throws, changing nothing, when a file is bad.
    @discardableResult
    public func reloadTLS() throws -> Bool {
        try rpc.reloadTLS()
    }

    /// SIGHUP: replaces the configured service and operator credentials at once; a bad set
    /// changes nothing. Returns what changed, by name.
    public func reloadCredentials(services: [ServerConfiguration.ServiceCredential], operatorCredential: String?)
        throws -> APIKeyService.ConfiguredCredentialsChange
    {
        try service.replaceConfiguredCredentials(
            services: services.map { .init(name: $0.name, secret: $0.secret, scope: $0.scope, tenants: $0.tenants) },
            operatorSecret: operatorCredential)
    }

    private static func flush(_ service: APIKeyService, logger: Logger, metrics: ServerMetrics?, lastFlush: LastFlush) {
        do {
            let written = try service.flushPending()
            if let metrics {
                let now = ContinuousClock.now
                let lag = lastFlush.time.withLock { last in defer { last = now }; return now - last }
                metrics.flushLag.record(Double(lag.nanosecondsClamped) / 1e9)
                metrics.flushBatch.record(written)
                metrics.indexSize.record(service.indexedKeyCount)
            }
        } catch {
            metrics?.storeErrors.increment()
            logger.error("could not store usage counters and verification events", metadata: [
                "error": "\(error)", "error_id": "\(error.errorID ?? "-")",
            ])
        }
    }

    /// The access log, connection and protocol-error lines, and the call metrics.
    private static func observer(logger: Logger, accessLog: Bool, metrics: ServerMetrics?) -> RPCServerObserver {
        var observer = RPCServerObserver()
        // Access lines are info: under a quieter level (the benchmark's warning) no call
        // builds one.
        let accessLog = accessLog && logger.logLevel <= .info
        observer.annotateCalls = accessLog
        observer.connectionOpened = { peer in
            metrics?.connections.increment()
            logger.debug("connection opened", metadata: ["peer": "\(peer)"])
        }
        observer.connectionClosed = { peer in
            metrics?.connections.decrement()
            logger.debug("connection closed", metadata: ["peer": "\(peer)"])
        }
        observer.protocolError = { peer, error in
            logger.debug("protocol error", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
        // Neither access log nor metrics: calls are not timed or reported at all (the Verify
        // hot path pays nothing for them).
        guard accessLog || metrics != nil else { return observer }
        observer.callFinished = { call in
            metrics?.callFinished(call)
            let fields = call.annotations?.snapshot
            // A domain INTERNAL's cause is logged where it is answered (APIRoutes.answer), under
            // its error ID; here it is counted.
            if call.code == .internal { metrics?.storeErrors.increment() }
            guard accessLog else { return }
            var metadata: Logger.Metadata = [
                "method": "\(call.method)", "status": "\(call.code)",
                "duration_ms": "\(String(format: "%.3f", Double(call.duration.nanosecondsClamped) / 1e6))",
                "peer": "\(call.peer)", "call_id": "\(call.callID)",
                "caller": "\(fields?.callerKind ?? "anonymous")",
            ]
            if let service = fields?.service { metadata["service"] = "\(service)" }
            if let tenant = fields?.tenant { metadata["tenant"] = "\(tenant)" }
            if let user = fields?.user { metadata["user"] = "\(user)" }
            if let keyID = fields?.keyID { metadata["key_id"] = "\(keyID)" }
            if let errorID = fields?.errorID { metadata["error_id"] = "\(errorID)" }
            logger.info("call", metadata: metadata)
        }
        return observer
    }
}

/// When the usage counters were last written (the flush lag metric).
final class LastFlush: Sendable {
    let time = Mutex(ContinuousClock.now)
}
