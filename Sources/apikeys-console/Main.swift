import APIKeysConsole
import APIKeysWire
import ArgumentParser
import Foundation
import Logging

/// `apikeys-console`: the Management Console and the hub in a browser (issue 13).
@main
struct APIKeysConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikeys-console",
        abstract: "The web console for apikeys: tenant admins' settings, keys and events, and each user's own keys.",
        discussion: """
        The console calls apikeysd as a service credential of scope act, acting for the signed-in user (X13). Give the credential in a file (--service-credential-file) or in APIKEYS_SERVICE_CREDENTIAL, never on the command line.

        Sign-in: behind an authenticating proxy, --trusted-user-header names a header holding TENANT/USER, honoured only from the --trusted-proxy addresses. For local use, --dev lets anyone pick a tenant and user: never expose it to a network.
        """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 7430
    @Option(help: "apikeysd's address, HOST:PORT.") var server = "127.0.0.1:7420"
    @Option(help: "File holding the service credential (scope act) on its one non-comment line.")
    var serviceCredentialFile: String?
    @Option(help: "Header an authenticating proxy sets to TENANT/USER.") var trustedUserHeader: String?
    @Option(help: "IP address of a proxy allowed to set the trusted header (repeat for several).")
    var trustedProxy: [String] = []
    @Flag(help: "Development mode: sign in by picking a tenant and user. Never for production.")
    var dev = false
    @Option(help: "Sessions held at most; beyond it the least recently seen are signed out.")
    var maxSessions = ConsoleConfiguration.defaultMaxSessions

    func validate() throws {
        if trustedUserHeader != nil, trustedProxy.isEmpty {
            throw ValidationError("--trusted-user-header needs at least one --trusted-proxy address")
        }
        if maxSessions < 1 {
            throw ValidationError("--max-sessions must be at least 1")
        }
        if trustedUserHeader == nil, !dev {
            throw ValidationError("give a sign-in method: --trusted-user-header with --trusted-proxy, or --dev for local use")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "apikeys-console")
        guard let colon = server.lastIndex(of: ":"), let serverPort = Int(server[server.index(after: colon)...]) else {
            throw ValidationError("--server must be HOST:PORT")
        }
        var configuration = ConsoleConfiguration(serviceCredential: try readCredential())
        configuration.host = host
        configuration.port = port
        configuration.serverHost = String(server[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        configuration.serverPort = serverPort
        configuration.trustedUserHeader = trustedUserHeader
        configuration.trustedProxies = Set(trustedProxy)
        configuration.developmentMode = dev
        configuration.maxSessions = maxSessions
        if dev {
            let banner = String(repeating: "!", count: 72)
            FileHandle.standardError.write(Data("""
            \(banner)
            !! DEVELOPMENT MODE: anyone who reaches this console can sign in as any
            !! user of any tenant. Never expose it beyond this machine.
            \(banner)

            """.utf8))
            if !configuration.secureCookies {
                logger.notice("cookies without Secure: plain HTTP on a loopback address in development mode")
            }
        }
        // As apikeysd does (issue 11): a taken port is one line naming the address and the
        // flag to change, not NIO's `bind(descriptor:ptr:bytes:)` error.
        do {
            try await RPCServer.checkCanListen(host: host, port: port)
        } catch let error as WireError {
            FileHandle.standardError.write(Data("apikeys-console: \(error.message)\n".utf8))
            Foundation.exit(1)
        }
        let listenHost = host.contains(":") ? "[\(host)]" : host
        let console = try ConsoleServer(configuration: configuration, logger: logger) { port in
            // Unbuffered, so a supervisor or test reading the pipe sees it at once.
            FileHandle.standardOutput.write(Data("apikeys-console listening on http://\(listenHost):\(port)\n".utf8))
        }
        try await console.run()
    }

    /// The file's one line that is neither blank nor a comment, or APIKEYS_SERVICE_CREDENTIAL.
    private func readCredential() throws -> String {
        if let serviceCredentialFile {
            guard let text = try? String(contentsOfFile: serviceCredentialFile, encoding: .utf8) else {
                throw ValidationError("cannot read \(serviceCredentialFile)")
            }
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            guard lines.count == 1 else {
                throw ValidationError("\(serviceCredentialFile): expected the credential alone on one line, found \(lines.count) lines")
            }
            return lines[0]
        }
        if let secret = ProcessInfo.processInfo.environment["APIKEYS_SERVICE_CREDENTIAL"], !secret.isEmpty {
            return secret
        }
        throw ValidationError("give the service credential (scope act): --service-credential-file FILE or APIKEYS_SERVICE_CREDENTIAL")
    }
}
