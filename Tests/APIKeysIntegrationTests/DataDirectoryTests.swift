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
        _ = try await client.createTenant(CreateTenantRequest(tenantID: "acme", name: "Acme"))
        await client.close()
        #expect(try Self.mode(directory) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["apikeys.sqlite", "apikeys.sqlite-shm", "apikeys.sqlite-wal", "apikeysd.lock"])
        for name in names {
            #expect(try Self.mode((directory as NSString).appendingPathComponent(name)) == 0o600, "\(name)")
        }
        await server.stop()
    }
}
