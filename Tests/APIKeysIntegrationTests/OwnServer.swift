import APIKeysServer
import APIKeysStorage
import APIKeysWire
import Foundation
import GRDB
import Logging
import Synchronization

/// A server of a test's own, for a test that seeds its SQLite file first (an old database),
/// reads the file while it runs, or breaks it; with the operator and a `console` service.
struct OwnServer: Sendable {
    let server: TestServer
    /// Address and credentials, for ``RuleTenant/make(enabled:adminIsDeveloper:on:)``.
    let shared: SharedServer

    var databasePath: String { (server.dataDirectory as NSString).appendingPathComponent("apikeys.sqlite") }

    /// Starts on a fresh directory; `seed` writes to its SQLite file before the server opens it.
    static func start(
        logger: Logger? = nil, seed: ((SQLiteKeyStore) throws -> Void)? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> OwnServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-own-\(UUID().uuidString)").path
        if let seed {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // Closed again (the pool goes) before the server opens the file.
            try seed(try SQLiteKeyStore(path: (directory as NSString).appendingPathComponent("apikeys.sqlite")))
        }
        let server = try await TestServer.start(dataDirectory: directory, logger: logger) { configuration in
            configuration.rpc.connection.idleTimeout = .seconds(120)
            configuration.usageFlushInterval = .milliseconds(100)
            configure(&configuration)
        }
        guard let operatorSecret = server.newOperatorCredential else {
            throw RPCError(code: .internal, message: "a fresh data directory must create an operator credential")
        }
        var shared = try await SharedServer.provision(host: server.host, port: server.port, operatorSecret: operatorSecret)
        shared.dataDirectory = directory
        return OwnServer(server: server, shared: shared)
    }

    func stop() async {
        await server.stop()
        try? FileManager.default.removeItem(atPath: server.dataDirectory)
    }
}

/// The server's SQLite file opened beside it (WAL lets both in), to inspect or break it.
func openDatabase(of dataDirectory: String) throws -> DatabaseQueue {
    try DatabaseQueue(path: (dataDirectory as NSString).appendingPathComponent("apikeys.sqlite"))
}

/// A log handler that keeps every record, for tests of what the server logs.
final class CapturedLogs: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let storage = Mutex<[Record]>([])

    var records: [Record] { storage.withLock { $0 } }

    var logger: Logger {
        var logger = Logger(label: "captured") { _ in Handler(logs: self) }
        logger.logLevel = .info
        return logger
    }

    struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let record = Record(level: event.level, message: event.message.description, metadata: all.mapValues { "\($0)" })
            logs.storage.withLock { $0.append(record) }
        }
    }
}
