import APIKeysServer
import APIKeysWire
import ArgumentParser
import Dispatch
import Foundation
import Logging

@main
struct Apikeysd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikeysd",
        abstract: "The apikeys server: API-key management over the apikeys RPC protocol.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 7420
    @Option(help: "Directory of the SQLite database (created when missing).") var dataDir = "data"
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
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
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

    func validate() throws {
        if ServerConfiguration.duration(parsing: eventRetention) == nil {
            throw ValidationError("--event-retention must be a duration such as 400d, 12h or 1d12h")
        }
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
        var logger = Logger(label: "apikeysd")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

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
        configuration.dataDirectory = dataDir
        configuration.conformance = conformance
        configuration.usageFlushInterval = .seconds(usageFlushInterval)
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

        let server = try APIKeysServer(configuration: configuration, logger: logger)
        let address = try await server.start()
        let shown = "\(address.host):\(address.port)"
        say("apikeysd listening on \(shown)")
        say("  tls: \(tlsDescription)")
        say("  data: \(dataDir)/apikeys.sqlite")
        say("  connect: apikeys --server \(shown)\(tlsCertificate == nil ? "" : " --tls-ca <ca.pem>") health")
        if let secret = server.newOperatorCredential {
            // Shown once, on one line only (stdout may be a journal): only its hash is stored (X7).
            say("operator credential: \(secret)")
            say("  Shown once: save it now. To keep it off the output, start a new data directory with --operator-credential-out FILE.")
        } else if let out = server.operatorCredentialWrittenTo {
            say("the generated operator credential is in \(out) (mode 0600); it is not shown")
        }

        await Self.waitForTermination()
        logger.info("shutting down: finishing calls in flight")
        await server.shutdown()
        logger.info("stopped")
    }

    /// For the startup lines: whether TLS is on. Paths only, never certificate contents.
    private var tlsDescription: String {
        guard tlsCertificate != nil else { return "off (plain TCP)" }
        guard tlsClientCA != nil else { return "on" }
        let services = tlsClientServices.isEmpty ? "" : ", \(tlsClientServices.count) certificate service(s)"
        return "on, client certificates required (mutual TLS)\(services)"
    }

    /// Returns on SIGTERM or SIGINT.
    static func waitForTermination() async {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let queue = DispatchQueue(label: "apikeysd.signals")
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = Once(continuation)
            let sources = [SIGTERM, SIGINT].map { DispatchSource.makeSignalSource(signal: $0, queue: queue) }
            for source in sources {
                source.setEventHandler { once.resume() }
                source.resume()
            }
            // Keep the sources alive for the life of the process.
            SignalSources.keep(sources)
        }
    }
}

/// Unbuffered, so scripts waiting for a line see it at once.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Resumes a continuation once, whichever signal comes first.
private final class Once: @unchecked Sendable {
    private var continuation: CheckedContinuation<Void, Never>?
    private let lock = NSLock()

    init(_ continuation: CheckedContinuation<Void, Never>) {
        self.continuation = continuation
    }

    func resume() {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume()
    }
}

private enum SignalSources {
    nonisolated(unsafe) static var kept: [any DispatchSourceSignal] = []

    static func keep(_ sources: [any DispatchSourceSignal]) {
        kept = sources
    }
}
