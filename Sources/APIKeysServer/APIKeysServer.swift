import APIKeysDomain
import APIKeysPostgres
import APIKeysStorage
import APIKeysWire
import CoreMetrics
import Foundation
public import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The apikeys server: the RPC server with every service registered, over the SQLite store
/// or a PostgreSQL store shared with other servers (X21).
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
    /// SQLite only: the locked directory.
    private let dataDirectory: DataDirectory?
    /// Shared store only: what keeps the index current, and the store to close.
    private let shared: SharedStoreParts?
    private let metrics: ServerMetrics?
    /// What `/readyz` and `Health/Check` ask.
    public let readiness: Readiness
    /// Where the data lives, for the start-up lines: the SQLite file's path, or the
    /// PostgreSQL database (user, host, port, database and schema; never a password).
    public let storeDescription: String
    /// Set when this start created the operator credential on an empty data directory:
    /// the one time it can be shown.
    public let newOperatorCredential: String?
    /// Set when this start created the operator credential and wrote it to
    /// `ServerConfiguration.operatorCredentialOutput` instead.
    public let operatorCredentialWrittenTo: String?

    public init(configuration: ServerConfiguration, logger: Logger) throws {
        self.logger = logger
        let store: any KeyStore
        let postgres: PostgresKeyStore?
        switch configuration.store {
        case .sqlite:
            // X21: the lock comes first, so a second server stops before it touches the database.
            let dataDirectory = try DataDirectory(path: configuration.dataDirectory)
            self.dataDirectory = dataDirectory
            var storeConfiguration = SQLiteKeyStore.Configuration()
            storeConfiguration.usageWritesAtIdlePriority = true
            store = try SQLiteKeyStore(path: dataDirectory.databasePath, configuration: storeConfiguration)
            dataDirectory.tightenSideFiles()
            storeDescription = dataDirectory.databasePath
            postgres = nil
        case .postgres(let url):
            dataDirectory = nil
            // Every pool thread, the flush and the change follower may each hold a connection.
            var storeConfiguration = PostgresKeyStore.Configuration()
            storeConfiguration.maxConnections = Self.storeThreads + 4
            let opened = try PostgresKeyStore(url: url, configuration: storeConfiguration, logger: logger)
            store = opened
            storeDescription = opened.description
            postgres = opened
        }
        let service: APIKeyService
        do {
            service = try APIKeyService(store: store, maxStaleness: postgres == nil ? nil : configuration.maxStaleness)
        } catch {
            postgres?.close()
            throw error
        }
        self.service = service
        #if os(Linux)
        // Loading the index freed a row object per key; glibc keeps freed memory for reuse
        // unless asked: hand it back, so resident memory is the index's (issue 14, goal 6).
        _ = glibcMallocTrim(0)
        #endif
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

        // Domain calls block on the store: they run here, never on an event loop. Most of
        // their time is waiting (PostgreSQL on the network; SQLite writes on a shared commit's
        // fsync, issue 14's group commit), so sixteen overlap: sixteen writes can share one
        // commit.
        pool = NIOThreadPool(numberOfThreads: Self.storeThreads)
        pool.start()
        let metrics = configuration.metrics ? ServerMetrics() : nil
        self.metrics = metrics
        if let postgres {
            let follower = ChangeFollower(interval: configuration.changePollInterval, service: service, logger: logger, metrics: metrics)
            shared = SharedStoreParts(store: postgres, follower: follower)
        } else {
            shared = nil
        }
        metrics?.indexSize.record(service.indexedKeyCount)
        let lastFlush = LastFlush()
        let retention = EventRetention(retention: configuration.eventRetention)
        flusher = UsageFlushThread(interval: configuration.usageFlushInterval) { [logger] in
            // The whole flush in the idle class: besides the store's writes, it builds an entry
            // per key used in the second (tens of thousands at full load), and on PostgreSQL
            // encodes them here, not in the database. It never takes the core from the event
            // loop (issues 10 and 11: Verify as fast as before the flush grew). It starts no
            // threads (PostgreSQL statements go over connections the pool already opened).
            IdlePriority.during { Self.flush(service, logger: logger, metrics: metrics, lastFlush: lastFlush) }
            retention.runIfDue(service, logger: logger)
        }
        readiness = Readiness(service: service, databasePath: dataDirectory?.databasePath)
        var router = RPCRouter()
        APIKeysV1.Health.register(HealthService(readiness: readiness, pool: pool), in: &router)
        let certificateServices = CertificateServices(entries: configuration.certificateServices)
        APIRoutes(service: service, pool: pool, certificateServices: certificateServices, logger: logger, metrics: metrics)
            .register(in: &router)
        if configuration.conformance {
            APIKeysV1.Conformance.register(ConformanceService(), in: &router)
        }
        rpc = RPCServer(router: router, configuration: configuration.rpc,
                        observer: Self.observer(logger: logger, accessLog: configuration.accessLog, metrics: metrics))
        logger.info("opened store", metadata: ["store": "\(storeDescription)", "keys": "\(service.indexedKeyCount)"])
        if configuration.rpc.tls?.requiresClientCertificate != true, !configuration.certificateServices.isEmpty {
            logger.warning("certificate services are configured but client certificates are not required (mutual TLS): they are ignored")
        }
    }

    static let storeThreads = 16

    /// X7, X18: creates the operator credential on a store that has none and returns it. With
    /// `output`, the secret is also written to that new file (0600), which is created before
    /// the credential, so an existing file stops the start with nothing generated.
    private static func bootstrap(_ service: APIKeyService, store: any KeyStore, output: String?) throws -> String? {
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
        if let shared {
            // Catch up once before serving: changes committed since the snapshot was read.
            _ = try? await pool.runIfActive { [service] in try service.catchUp() }
            let follower = shared.follower
            shared.store.watchChanges { follower.wake() }
            follower.start()
        }
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
        let shared = self.shared
        try? await pool.runIfActive {
            shared?.follower.stop()
            flusher.stop()
            shared?.store.close()
        }
        try? await pool.shutdownGracefully()
        dataDirectory?.release()
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
            if lastFlush.failing.withLock({ failing in defer { failing = false }; return failing }) {
                logger.notice("usage counters and verification events are stored again")
            }
        } catch {
            metrics?.storeErrors.increment()
            // Once per outage: the flush retries every interval, keeping what it could not store.
            guard !lastFlush.failing.withLock({ failing in defer { failing = true }; return failing }) else { return }
            logger.error("could not store usage counters and verification events: kept in memory, retried every flush", metadata: [
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
        observer.readingPaused = { peer, paused in
            if paused { metrics?.connectionsPaused.increment() } else { metrics?.connectionsPaused.decrement() }
            logger.debug(paused ? "reading paused: the client leaves output unread" : "reading resumed", metadata: ["peer": "\(peer)"])
        }
        observer.responseReplaced = { peer in
            metrics?.responsesReplaced.increment()
            logger.debug("a large response was replaced by RESOURCE_EXHAUSTED: output goes unread", metadata: ["peer": "\(peer)"])
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
    /// The last flush failed: its failure was logged, the next ones are not until one succeeds.
    let failing = Mutex(false)
}

/// X21: a server on a shared store follows the other servers' changes.
private struct SharedStoreParts: Sendable {
    let store: PostgresKeyStore
    let follower: ChangeFollower
}

#if os(Linux)
/// glibc's `malloc_trim` (in <malloc.h>, which the Glibc module does not bring in).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
