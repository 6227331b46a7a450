import APIKeysPostgres
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The PostgreSQL the tests run against: `APIKEYS_TEST_POSTGRES` when set (`make test`),
/// otherwise a throwaway cluster this test process starts once through
/// scripts/postgres-cluster.sh and stops at exit. Never skipped: without PostgreSQL the
/// tests fail.
enum TestCluster {
    static let scriptPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/postgres-cluster.sh").path

    /// postgres://user@host:port/database, without a schema.
    static let baseURL: String = {
        if let url = ProcessInfo.processInfo.environment["APIKEYS_TEST_POSTGRES"], !url.isEmpty { return url }
        let cluster = try! OwnCluster.start()
        ownedDirectory.withLock { $0 = cluster.directory }
        atexit { TestCluster.stopOwned() }
        return cluster.url
    }()

    private static let ownedDirectory = Mutex<String?>(nil)

    static func stopOwned() {
        if let directory = ownedDirectory.withLock({ $0 }) { _ = try? OwnCluster.run(["stop", directory]) }
    }

    /// A schema no other test uses.
    static func freshSchema() -> String {
        "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
    }

    static func url(schema: String, base: String = baseURL) -> String {
        base + (base.contains("?") ? "&" : "?") + "schema=\(schema)"
    }

    static let logger: Logger = {
        var logger = Logger(label: "apikeys.postgres.tests")
        logger.logLevel = .warning
        return logger
    }()

    static func store(schema: String, base: String = baseURL, configuration: PostgresKeyStore.Configuration = .init()) throws -> PostgresKeyStore {
        try PostgresKeyStore(url: url(schema: schema, base: base), configuration: configuration, logger: logger)
    }

    /// Runs one statement on a connection of its own (administration: terminate, drop).
    @discardableResult
    static func admin(_ sql: String, base: String = baseURL) throws -> [PostgresRow] {
        let parts = URLComponents(string: base)!
        let config = PostgresConnection.Configuration(
            host: parts.host!, port: parts.port ?? 5432, username: parts.user!, password: parts.password,
            database: String(parts.path.dropFirst()), tls: .disable)
        let connection = try PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: config, id: 0, logger: logger).wait()
        defer { try? connection.close().wait() }
        return try connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).wait().rows
    }
}

/// A cluster of the test's own, for tests that stop and restart it.
struct OwnCluster {
    let directory: String
    let url: String

    static func start(directory: String? = nil) throws -> OwnCluster {
        let directory = directory ?? (NSTemporaryDirectory() + "apikeys-pg-" + UUID().uuidString.prefix(8))
        let url = try run(["start", directory]).trimmingCharacters(in: .whitespacesAndNewlines)
        return OwnCluster(directory: directory, url: url)
    }

    /// Stops the server and keeps its files and port (`start(directory:)` brings it back).
    func halt() throws { try Self.run(["halt", directory]) }
    func restart() throws { _ = try Self.start(directory: directory) }
    func remove() { _ = try? Self.run(["stop", directory]) }

    /// SIGSTOP (`hang: true`) or SIGCONT to the postmaster and every backend: a database
    /// that keeps its sockets open and answers nothing, as behind a network partition.
    func signalAll(hang: Bool) throws {
        let signal = hang ? "STOP" : "CONT"
        let pidFile = directory + "/data/postmaster.pid"
        try Self.run(["pid=$(head -1 '\(pidFile)'); kill -\(signal) $pid $(pgrep -P $pid)"], shell: true)
    }

    /// Runs the script and returns its standard output. posix_spawn and waitpid, not
    /// Foundation's Process: its SIGCHLD handling needs a dispatch worker, and every one may
    /// be blocked waiting for this very cluster (a hang seen here).
    @discardableResult
    static func run(_ arguments: [String], shell: Bool = false) throws -> String {
        let output = NSTemporaryDirectory() + "apikeys-pg-out-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: output) }
        let command = shell
            ? "{ \(arguments[0]) ; } > '\(output)'"
            : ([TestCluster.scriptPath] + arguments).map { "'" + $0 + "'" }.joined(separator: " ") + " > '\(output)'"
        let argv = ["/bin/bash", "-c", command]
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", nil, nil, &cArguments, environ)
        guard spawned == 0 else { throw ClusterError(message: "posix_spawn failed: \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw ClusterError(message: "postgres-cluster.sh \(arguments.joined(separator: " ")) failed (status \(status))")
        }
        return text
    }

    struct ClusterError: Error { var message: String }
}

/// Runs `body(i)` for i in 0..<count on that many threads at once (the cooperative pool has
/// only as many threads as cores, and the port blocks).
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass.
func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}
