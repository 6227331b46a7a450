import APIKeysClient
import APIKeysServer
import APIKeysWire
import Foundation
import Testing

/// Findings 10 and 11 of issue 9, X21: the data directory is private and held by one server.
@Suite("X21: the data directory")
struct DataDirectoryTests {
    static func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test("X21: a second server on one data directory refuses to start naming the first's PID; after a stop it starts")
    func oneServerPerDirectory() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-lock-\(UUID().uuidString)").path
        let first = try await TestServer.start(dataDirectory: directory)
        let error = await #expect(throws: DataDirectoryError.self) { _ = try await TestServer.start(dataDirectory: directory) }
        #expect(error.map { "\($0)" }?.contains("pid \(getpid())") == true, "\(String(describing: error))")
        // The first keeps serving.
        let client = try await APIKeysClient.connect(host: first.host, port: first.port)
        #expect(try await client.health().status == .serving)
        await client.close()
        await first.stop()
        let second = try await TestServer.start(dataDirectory: directory)
        await second.stop()
    }

    @Test("Finding 11: the directory is 0700 and the SQLite files and lock 0600 after writes")
    func privateFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-mode-\(UUID().uuidString)").path
        let server = try await TestServer.start(dataDirectory: directory)
        let secret = try #require(server.newOperatorCredential)
        let client = try await APIKeysClient.connect(host: server.host, port: server.port, credential: .operator(secret))
        _ = try await client.createTenant(APIKeysV1.CreateTenantRequest(tenantID: "acme", name: "Acme"))
        await client.close()
        #expect(try Self.mode(directory) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["apikeys.sqlite", "apikeys.sqlite-shm", "apikeys.sqlite-wal", "apikeysd.lock"])
        for name in names {
            #expect(try Self.mode((directory as NSString).appendingPathComponent(name)) == 0o600, "\(name)")
        }
        await server.stop()
    }

    @Test("X21: deleting apikeysd.lock under a running server does not let a second one in (the lock is on the directory)")
    func lockSurvivesDeletedFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-unlink-\(UUID().uuidString)").path
        let first = try await TestServer.start(dataDirectory: directory)
        try FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent("apikeysd.lock"))
        await #expect(throws: DataDirectoryError.self) { _ = try await TestServer.start(dataDirectory: directory) }
        await first.stop()
    }

    @Test("Finding 11: a lock file planted as a symbolic link is not followed; the file it points at is untouched")
    func symlinkNotFollowed() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-link-\(UUID().uuidString)").path
        let directory = (base as NSString).appendingPathComponent("data")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let victim = (base as NSString).appendingPathComponent("victim")
        try Data("important\n".utf8).write(to: URL(fileURLWithPath: victim))
        try FileManager.default.createSymbolicLink(atPath: (directory as NSString).appendingPathComponent("apikeysd.lock"), withDestinationPath: victim)
        await #expect(throws: DataDirectoryError.self) { _ = try await TestServer.start(dataDirectory: directory) }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "important\n")
    }

    @Test("Finding 11: a data directory other users can write to is refused")
    func worldWritableRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-open-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        _ = chmod(directory, 0o777)
        let error = await #expect(throws: DataDirectoryError.self) { _ = try await TestServer.start(dataDirectory: directory) }
        #expect(error.map { "\($0)" }?.contains("writable by other users") == true, "\(String(describing: error))")
    }
}
