import APIKeysServer
import APIKeysWire
import Foundation
import Logging

/// A real apikeysd, in this process, on a free port, with its own SQLite directory.
final class TestServer: Sendable {
    let server: APIKeysServer
    let host: String
    let port: Int
    let dataDirectory: String
    /// The operator credential this start created on an empty data directory (nil on a restart).
    var newOperatorCredential: String? { server.newOperatorCredential }

    static func start(
        dataDirectory: String? = nil, logger: Logger? = nil, configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("apikeys-test-\(UUID().uuidString)").path
        var configuration = ServerConfiguration()
        configuration.rpc.port = 0
        configuration.rpc.threads = 2
        configuration.rpc.shutdownGracePeriod = .seconds(5)
        // Short, for the silent-connection cases, but not so short that a client in this test
        // process misses it while synchronous suites (SQLite) hold both cooperative threads of
        // a 2-core machine for seconds.
        configuration.rpc.connection.handshakeTimeout = .seconds(8)
        configuration.rpc.connection.idleTimeout = .seconds(8)
        configuration.dataDirectory = directory
        configuration.conformance = true
        configure(&configuration)
        let logger = logger ?? {
            var logger = Logger(label: "test-server")
            logger.logLevel = .warning
            return logger
        }()
        let server = try APIKeysServer(configuration: configuration, logger: logger)
        let address = try await server.start()
        return TestServer(server: server, host: address.host, port: address.port, dataDirectory: directory)
    }

    private init(server: APIKeysServer, host: String, port: Int, dataDirectory: String) {
        self.server = server
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
    }

    func stop() async {
        await server.shutdown()
    }
}

/// The built binaries, for tests that run the real processes.
enum Binaries {
    static var directory: URL {
        // Tests/APIKeysIntegrationTests/TestServer.swift -> the package root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug")
    }

    static let apikeysd = directory.appendingPathComponent("apikeysd")
}
