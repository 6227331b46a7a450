import APIKeysDomain
import APIKeysServer
import APIKeysWire
import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Runs `apikeysd` with what the environment and `--config` add (``ConfigSources``).
@main
enum ApikeysdMain {
    static func main() async {
        // Backups have their own few flags: no environment or config file for them.
        switch CommandLine.arguments.dropFirst().first {
        case "backup":
            await BackupCommand.main(Array(CommandLine.arguments.dropFirst(2)))
            return
        case "restore":
            await RestoreCommand.main(Array(CommandLine.arguments.dropFirst(2)))
            return
        default:
            break
        }
        let arguments: [String]
        do {
            arguments = try ConfigSources.merge(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
        } catch {
            Apikeysd.usageFailure("\(error)")
        }
        await Apikeysd.main(arguments)
    }
}

struct Apikeysd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikeysd",
        abstract: "The apikeys server: API-key management over the apikeys RPC protocol.",
        discussion: """
            Every option can also come from an APIKEYS_* environment variable (--max-frame-size: \
            APIKEYS_MAX_FRAME_SIZE) and from the --config file (max-frame-size = 4194304); \
            precedence: flags > environment > file > defaults. SIGHUP reloads the TLS files and \
            the credential files; SIGTERM and SIGINT drain calls in flight and stop.
            'apikeysd backup --help' and 'apikeysd restore --help': copies of the database.
            """,
        version: APIKeysVersion.current)

    @Option(help: ArgumentHelp("Read settings from this file (name = value lines, a subset of TOML; also APIKEYS_CONFIG).", valueName: "file"))
    var config: String?
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 7420
    @Option(help: "Directory of the SQLite database (created when missing; default: data).") var dataDir: String?
    @Option(help: ArgumentHelp(
        "Use a PostgreSQL database that several servers share instead of SQLite: postgres://user@host[:port]/database[?schema=name]; the password from PGPASSWORD (also APIKEYS_STORE).",
        valueName: "url"))
    var store: String?
    @Option(help: "With --store: how long Verify answers from memory while the database is unreachable, then UNAVAILABLE (30s, 2m...).")
    var maxStaleness = "30s"
    @Flag(help: "Register the Conformance test service (for apikeys-conformance and tests).") var conformance = false
    @Option(help: "Largest frame in bytes.") var maxFrameSize = 4 * 1024 * 1024
    @Option(help: "Calls in flight per connection.") var maxConcurrentCalls = 100
    @Option(help: "Bytes of output a client has not read at which the server stops reading its connection.")
    var maxUnwrittenBytes = 8 * 1024 * 1024
    @Option(help: "Bytes of output all clients together have not read past which large responses are replaced by RESOURCE_EXHAUSTED.")
    var maxServerUnwrittenBytes = 256 * 1024 * 1024
    @Option(help: "Connections at once.") var maxConnections = 1024
    @Option(help: "Seconds a new connection has to send its preface.") var handshakeTimeout = 10.0
    @Option(help: "Seconds after which a connection with nothing to do is closed.") var idleTimeout = 300.0
    @Option(help: "Seconds of silence before the server pings a connection.") var keepaliveInterval = 60.0
    @Option(help: "Seconds calls in flight get to finish on shutdown.") var shutdownGracePeriod = 30.0
    @Option(help: "Event loop threads (0: one per core).") var threads = 0
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Log lines on stderr as logfmt (key=value) or json.") var logFormat = "logfmt"
    @Option(help: "One info line per call (on) or none (off).") var accessLog = "on"
    @Option(help: ArgumentHelp("Serve /metrics, /healthz and /readyz over HTTP on this port (off unless given; 0 picks a free one).", valueName: "port"))
    var httpPort: Int?
    @Option(help: "Address of the HTTP port.") var httpHost = "127.0.0.1"
    @Option(help: ArgumentHelp(
        "Trusted services' credentials, one a line: NAME SCOPE[:TENANT,...] SECRET, SCOPE verify or act; '#' starts a comment line (X18). Also APIKEYS_SERVICE_CREDENTIALS=NAME[:SCOPE]=SECRET,...",
        valueName: "file"))
    var serviceCredentialsFile: String?
    @Option(help: ArgumentHelp(
        "A file holding an operator credential to accept besides the stored ones, 32 or more characters (also APIKEYS_OPERATOR_CREDENTIAL).",
        valueName: "file"))
    var operatorCredentialFile: String?
    @Option(help: ArgumentHelp(
        "On a first start, write the generated operator credential to this new file (mode 0600) instead of printing it; an existing file is never overwritten.",
        valueName: "file"))
    var operatorCredentialOut: String?
    // Finding 6: secrets on the command line are visible to every user in `ps`. Still parsed,
    // so that passing one stops the start with a pointer to the file options.
    @Option(name: .customLong("service-credential"), help: .hidden) var argvServiceCredentials: [String] = []
    @Option(name: .customLong("operator-credential"), help: .hidden) var argvOperatorCredential: String?
    @Option(help: "Seconds between writes of usage counters (a crash loses at most this much of them).")
    var usageFlushInterval = 1.0
    @Option(help: "How long events are kept (X20): 400d, 90d, 12h, 1d12h...; older ones are deleted in small batches.")
    var eventRetention = "400d"
    @Option(help: ArgumentHelp("Serve TLS with this PEM certificate chain (needs --tls-private-key).", valueName: "path"))
    var tlsCertificate: String?
    @Option(help: ArgumentHelp("The PEM private key of --tls-certificate.", valueName: "path"))
    var tlsPrivateKey: String?
    @Option(help: ArgumentHelp("Require client certificates issued by these PEM roots (mutual TLS).", valueName: "path"))
    var tlsClientCA: String?
    @Option(name: .customLong("tls-client-service"),
            help: ArgumentHelp("With --tls-client-ca: a client certificate with exactly this subject alternative name URI acts as service NAME with SCOPE (verify or act, optionally only in the listed tenants); repeatable. The Common Name and DNS names are never used.", valueName: "URI=NAME:SCOPE[:TENANT,...]"))
    var tlsClientServices: [String] = []

    /// One line on stderr and exit 64 (EX_USAGE): a supervisor's log shows the cause at once.
    static func usageFailure(_ line: String) -> Never {
        FileHandle.standardError.write(Data("apikeysd: \(line)\n".utf8))
        Foundation.exit(64)
    }

    /// Nothing is opened before every value passed; a bad one is named with what is allowed.
    func validate() throws {
        do {
            try validateValues()
        } catch let error as ValidationError {
            Self.usageFailure(error.message)
        }
    }

    private func validateValues() throws {
        func check(_ ok: Bool, _ flag: String, _ value: Any, _ allowed: String) throws {
            guard ok else { throw ValidationError("--\(flag) \(value): allowed: \(allowed)") }
        }
        try check((0...65535).contains(port), "port", port, "0 (any free port) to 65535")
        if let httpPort { try check((0...65535).contains(httpPort), "http-port", httpPort, "0 (any free port) to 65535") }
        try check(Logger.Level(rawValue: logLevel) != nil, "log-level", logLevel,
                  Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
        try check(StructuredLogHandler.Format(rawValue: logFormat) != nil, "log-format", logFormat, "logfmt, json")
        try check(["on", "off"].contains(accessLog), "access-log", accessLog, "on, off")
        try check(!host.isEmpty, "host", "''", "an IP address or host name")
        try check(dataDir?.isEmpty != true, "data-dir", "''", "a directory path")
        if let store {
            try check(store.hasPrefix("postgres://") || store.hasPrefix("postgresql://"), "store", Self.redacted(store),
                      "a PostgreSQL URL, postgres://user@host[:port]/database[?schema=name]")
            if dataDir != nil { throw ValidationError("--store and --data-dir exclude each other: --data-dir is the SQLite store's directory") }
        }
        try check(ServerConfiguration.duration(parsing: maxStaleness) != nil, "max-staleness", maxStaleness,
                  "a duration such as 30s, 2m or 1h")
        try check((1024...(1 << 30)).contains(maxFrameSize), "max-frame-size", maxFrameSize, "1024 to 1073741824 bytes")
        try check(maxConcurrentCalls >= 1, "max-concurrent-calls", maxConcurrentCalls, "1 or more")
        try check(maxConnections >= 1, "max-connections", maxConnections, "1 or more")
        try check(maxUnwrittenBytes >= 1024, "max-unwritten-bytes", maxUnwrittenBytes, "1024 bytes or more")
        try check(maxServerUnwrittenBytes >= maxUnwrittenBytes, "max-server-unwritten-bytes", maxServerUnwrittenBytes,
                  "at least --max-unwritten-bytes (\(maxUnwrittenBytes))")
        try check((0...1024).contains(threads), "threads", threads, "0 (one per core) to 1024")
        for (flag, value) in [("handshake-timeout", handshakeTimeout), ("idle-timeout", idleTimeout),
                              ("keepalive-interval", keepaliveInterval), ("usage-flush-interval", usageFlushInterval)] {
            try check(value.isFinite && value > 0 && value <= 86_400, flag, value, "more than 0 seconds, at most 86400")
        }
        try check(shutdownGracePeriod.isFinite && shutdownGracePeriod >= 0 && shutdownGracePeriod <= 86_400,
                  "shutdown-grace-period", shutdownGracePeriod, "0 to 86400 seconds")
        try check(ServerConfiguration.duration(parsing: eventRetention) != nil, "event-retention", eventRetention,
                  "a duration such as 400d, 12h or 1d12h")
        if !argvServiceCredentials.isEmpty {
            throw ValidationError("--service-credential is no longer accepted: a secret on the command line is visible to every user (ps). Put the credentials in a file for --service-credentials-file (NAME SCOPE SECRET a line), or in APIKEYS_SERVICE_CREDENTIALS.")
        }
        if argvOperatorCredential != nil {
            throw ValidationError("--operator-credential is no longer accepted: a secret on the command line is visible to every user (ps). Put it in a file for --operator-credential-file, or in APIKEYS_OPERATOR_CREDENTIAL.")
        }
        _ = try ConfiguredCredentials.load(serviceFile: serviceCredentialsFile, operatorFile: operatorCredentialFile)
        if (tlsCertificate == nil) != (tlsPrivateKey == nil) {
            throw ValidationError("--tls-certificate and --tls-private-key go together")
        }
        if tlsClientCA != nil, tlsCertificate == nil {
            throw ValidationError("--tls-client-ca needs --tls-certificate and --tls-private-key")
        }
        if !tlsClientServices.isEmpty, tlsClientCA == nil {
            throw ValidationError("--tls-client-service needs --tls-client-ca (client certificates are only read under mutual TLS)")
        }
        for entry in tlsClientServices { _ = try ConfiguredCredentials.certificateService(entry) }
    }

    func run() async throws {
        // Findings 10, 11: whatever the caller's umask, nothing apikeysd creates is readable by others.
        umask(0o077)
        // Until the reload service listens, a SIGHUP must not kill the server (its default).
        signal(SIGHUP, SIG_IGN)
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let format = StructuredLogHandler.Format(rawValue: logFormat) ?? .logfmt
        LoggingSystem.bootstrap { _ in StructuredLogHandler(format: format, logLevel: level) }
        let logger = Logger(label: "apikeysd")
        let registry = PrometheusCollectorRegistry()
        if httpPort != nil {
            var factory = PrometheusMetricsFactory(registry: registry)
            // Most calls take well under a millisecond (Verify), the slowest a few seconds.
            factory.defaultDurationHistogramBuckets = [
                .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
                .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
            ]
            factory.defaultValueHistogramBuckets = [0, 1, 10, 100, 1_000, 10_000, 100_000]
            MetricsSystem.bootstrap(factory)
        }

        var configuration = ServerConfiguration()
        configuration.rpc.host = host
        configuration.rpc.port = port
        configuration.rpc.maxConnections = maxConnections
        configuration.rpc.threads = threads
        configuration.rpc.shutdownGracePeriod = .seconds(shutdownGracePeriod)
        configuration.rpc.connection.maxFrameSize = maxFrameSize
        configuration.rpc.connection.maxConcurrentCalls = maxConcurrentCalls
        configuration.rpc.connection.maxUnwrittenBytes = maxUnwrittenBytes
        configuration.rpc.maxServerUnwrittenBytes = maxServerUnwrittenBytes
        configuration.rpc.connection.handshakeTimeout = .seconds(handshakeTimeout)
        configuration.rpc.connection.idleTimeout = .seconds(idleTimeout)
        configuration.rpc.connection.keepaliveInterval = .seconds(keepaliveInterval)
        configuration.dataDirectory = dataDir ?? "data"
        if let store { configuration.store = .postgres(url: store) }
        configuration.maxStaleness = ServerConfiguration.duration(parsing: maxStaleness) ?? configuration.maxStaleness
        configuration.conformance = conformance
        configuration.usageFlushInterval = .seconds(usageFlushInterval)
        configuration.accessLog = accessLog == "on"
        configuration.metrics = httpPort != nil
        let credentials = try ConfiguredCredentials.load(serviceFile: serviceCredentialsFile, operatorFile: operatorCredentialFile)
        configuration.serviceCredentials = credentials.services
        configuration.operatorCredential = credentials.operator
        configuration.operatorCredentialOutput = operatorCredentialOut
        for warning in credentials.warnings { logger.warning("\(warning)") }
        configuration.eventRetention = ServerConfiguration.duration(parsing: eventRetention) ?? configuration.eventRetention
        if let tlsCertificate, let tlsPrivateKey {
            configuration.rpc.tls = if let tlsClientCA {
                .mutual(certificateChain: tlsCertificate, privateKey: tlsPrivateKey, trustRoots: tlsClientCA)
            } else {
                .server(certificateChain: tlsCertificate, privateKey: tlsPrivateKey)
            }
        }
        configuration.certificateServices = try tlsClientServices.map(ConfiguredCredentials.certificateService)

        do {
            try await RPCServer.checkCanListen(host: host, port: port)
            if let httpPort { try await RPCServer.checkCanListen(host: httpHost, port: httpPort, flags: ("--http-host", "--http-port")) }
        } catch {
            Self.startFailure(Self.oneLine(error))
        }
        let server: APIKeysServer
        do {
            server = try APIKeysServer(configuration: configuration, logger: logger)
        } catch let error as DataDirectoryError {
            Self.startFailure(error.description)
        } catch {
            let reason = Self.oneLine(error)
            if let store {
                Self.startFailure("cannot use --store \(Self.redacted(store)): \(reason)")
            }
            let dataDir = configuration.dataDirectory
            // Foundation's errors name the path themselves.
            Self.startFailure(reason.hasPrefix(dataDir) ? "cannot use --data-dir \(reason)" : "cannot use --data-dir \(dataDir): \(reason)")
        }
        // What the start-up lines and SIGHUP need, as values the services may hold.
        let files = Files(tlsCertificate: tlsCertificate, tlsPrivateKey: tlsPrivateKey, tlsDescription: tlsDescription,
                          serviceCredentialsFile: serviceCredentialsFile, operatorCredentialFile: operatorCredentialFile,
                          accessLog: accessLog)
        let serverService = APIKeysServerService(server: server) { host, port in
            files.announce(server: server, host: host, port: port, logger: logger)
        }
        // Trapped before the start-up lines: a SIGHUP sent once they show is never lost.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        var services: [any Service] = [serverService, ReloadOnHangup(hangups: hangups, reload: { files.reload(server, logger: logger) })]
        if let httpPort {
            services.append(OperationsHTTPServer(host: httpHost, port: httpPort, readiness: server.readiness,
                                                 registry: registry, logger: logger) { [httpHost] port in
                say("  http: http://\(httpHost):\(port) (/metrics, /healthz, /readyz)")
                logger.info("listening for HTTP", metadata: ["address": "\(httpHost):\(port)"])
            })
        }
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            Self.startFailure(Self.oneLine(error))
        }
        logger.info("stopped")
    }

    /// A store URL as it may be shown: without its password.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url.range(of: "@", range: scheme.upperBound..<url.endIndex),
              let colon = url.range(of: ":", range: scheme.upperBound..<at.lowerBound)
        else { return url }
        return String(url[..<colon.upperBound]) + "***" + String(url[at.lowerBound...])
    }

    /// A failure after validation (the data directory, the port): one line, exit 1.
    static func startFailure(_ line: String) -> Never {
        FileHandle.standardError.write(Data("apikeysd: \(line)\n".utf8))
        Foundation.exit(1)
    }

    /// An error as one line: Foundation's errors as their POSIX reason, not a dump.
    static func oneLine(_ error: any Error) -> String {
        if let error = error as? ValidationError { return error.message }
        if let error = error as? WireError { return error.message }
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain, let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain {
            let path = (ns.userInfo[NSFilePathErrorKey] as? String).map { "\($0): " } ?? ""
            return path + String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain {
            let path = (ns.userInfo[NSFilePathErrorKey] as? String).map { "\($0): " } ?? ""
            return path + ns.localizedDescription
        }
        return "\(error)".replacingOccurrences(of: "\n", with: " ")
    }

    /// For the startup lines: whether TLS is on. Paths only, never certificate contents.
    private var tlsDescription: String {
        guard tlsCertificate != nil else { return "off (plain TCP)" }
        guard tlsClientCA != nil else { return "on" }
        let services = tlsClientServices.isEmpty ? "" : ", \(tlsClientServices.count) certificate service(s)"
        return "on, client certificates required (mutual TLS)\(services)"
    }
}

/// Unbuffered, so scripts waiting for a line see it at once.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// The paths and descriptions apikeysd's services need after the start.
struct Files: Sendable {
    let tlsCertificate: String?
    let tlsPrivateKey: String?
    let tlsDescription: String
    let serviceCredentialsFile: String?
    let operatorCredentialFile: String?
    let accessLog: String

    /// The start-up lines: on stdout for people and scripts, in the log for the journal.
    func announce(server: APIKeysServer, host: String, port: Int, logger: Logger) {
        let shown = "\(host):\(port)"
        say("apikeysd listening on \(shown)")
        say("  tls: \(tlsDescription)")
        say("  data: \(server.storeDescription)")
        say("  connect: apikeys --server \(shown)\(tlsCertificate == nil ? "" : " --tls-ca <ca.pem>") health")
        logger.info("listening", metadata: [
            "address": "\(shown)", "tls": "\(tlsDescription)", "data": "\(server.storeDescription)",
            "version": "\(APIKeysVersion.current)", "access_log": "\(accessLog)",
        ])
        if let secret = server.newOperatorCredential {
            // Shown once, on one line only (stdout may be a journal): only its hash is stored (X7).
            say("operator credential: \(secret)")
            say("  Shown once: save it now. To keep it off the output, start a new data directory with --operator-credential-out FILE.")
        } else if let out = server.operatorCredentialWrittenTo {
            say("the generated operator credential is in \(out) (mode 0600); it is not shown")
        }
    }

    /// SIGHUP: the TLS files and the credential files again. Each part changes all or
    /// nothing; a bad file is logged and the running configuration stays.
    func reload(_ server: APIKeysServer, logger: Logger) {
        logger.info("SIGHUP: reloading TLS files and credentials")
        do {
            if try server.reloadTLS() {
                logger.info("reloaded TLS: new connections use the new certificate, open ones keep theirs",
                            metadata: ["certificate": "\(tlsCertificate ?? "")", "private_key_file": "\(tlsPrivateKey ?? "")"])
            }
        } catch {
            logger.error("TLS not reloaded, the previous certificate stays", metadata: ["error": "\(Apikeysd.oneLine(error))"])
        }
        do {
            let credentials = try ConfiguredCredentials.load(serviceFile: serviceCredentialsFile, operatorFile: operatorCredentialFile)
            for warning in credentials.warnings { logger.warning("\(warning)") }
            let change = try server.reloadCredentials(services: credentials.services, operatorCredential: credentials.operator)
            logger.info(change.isEmpty ? "reloaded credentials: no change" : "reloaded credentials", metadata: [
                "added": "\(change.added.joined(separator: ","))", "removed": "\(change.removed.joined(separator: ","))",
                "changed": "\(change.changed.joined(separator: ","))",
            ])
        } catch {
            logger.error("credentials not reloaded, the previous ones stay", metadata: ["error": "\(Apikeysd.oneLine(error))"])
        }
    }

}

/// SIGHUP reloads, for as long as the server runs.
struct ReloadOnHangup: Service {
    let hangups: UnixSignalsSequence
    let reload: @Sendable () -> Void

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            reload()
        }
    }
}

/// ServiceLifecycle's log lines name services by their description: a short name, not a dump.
extension ReloadOnHangup: CustomStringConvertible {
    var description: String { "sighup-reload" }
}
