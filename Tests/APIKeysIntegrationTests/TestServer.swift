import APIKeysServer
import APIKeysWire
import Foundation
import Logging

/// Which store the rule suites run on: SQLite unless `APIKEYS_TEST_STORE=postgres`, with
/// `APIKEYS_TEST_POSTGRES` the URL of a PostgreSQL database (`make test` runs the suite once
/// on each, X21). On PostgreSQL each server gets a schema of its own.
enum TestStore {
    static let postgresURL: String? = {
        let environment = ProcessInfo.processInfo.environment
        guard environment["APIKEYS_TEST_STORE"] == "postgres" else { return nil }
        guard let url = environment["APIKEYS_TEST_POSTGRES"], !url.isEmpty else {
            fatalError("APIKEYS_TEST_STORE=postgres needs APIKEYS_TEST_POSTGRES (make test sets both)")
        }
        return url
    }()

    static var isSQLite: Bool { postgresURL == nil }

    /// A URL for a fresh schema of the test database.
    static func freshPostgresStore(_ base: String) -> ServerConfiguration.Store {
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return .postgres(url: base + (base.contains("?") ? "&" : "?") + "schema=\(schema)")
    }
}

/// A real apikeysd, in this process, on a free port, with its own SQLite directory (or, when
/// the suite runs on PostgreSQL and no directory is asked for, its own schema).
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
        if dataDirectory == nil, let url = TestStore.postgresURL {
            configuration.store = TestStore.freshPostgresStore(url)
        }
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
