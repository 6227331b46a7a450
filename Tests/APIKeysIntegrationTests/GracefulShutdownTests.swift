import APIKeysWire
import Foundation
import Testing

@Suite("Graceful shutdown")
struct GracefulShutdownTests {
    @Test("calls in flight finish, later calls get UNAVAILABLE, the connection closes")
    func inFlightCallsFinish() async throws {
        let server = try await TestServer.start()
        let connection = try await RPCConnection.connect(host: server.host, port: server.port)
        let running = Task {
            try await connection.call("/apikeys.v1.Conformance/Echo", APIKeysV1.EchoRequest(sleepMillis: 2_000, responseSize: 3), as: APIKeysV1.EchoResponse.self)
        }
        try await Self.waitUntilRunning(connection)
        let shutdown = Task { await server.stop() }
        try await Task.sleep(for: .milliseconds(150))

        await #expect(throws: RPCError.self) {
            try await connection.call("/apikeys.v1.Conformance/Empty", APIKeysV1.EmptyMessage(), as: APIKeysV1.EmptyMessage.self)
        }
        let reply = try await running.value
        #expect(reply.payload.count == 3)
        await shutdown.value
        // The client learns of the close on its own event loop, a moment after the server.
        let deadline = ContinuousClock.now + .seconds(2)
        while connection.isActive, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!connection.isActive)
        await #expect(throws: (any Error).self) {
            try await RPCConnection.connect(host: server.host, port: server.port)
        }
    }

    @Test("SIGTERM: apikeysd answers the call in flight, then exits 0")
    func sigterm() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-sigterm-\(UUID().uuidString)")
        let process = Process()
        process.executableURL = Binaries.apikeysd
        process.arguments = ["--port", "0", "--data-dir", data.path, "--conformance"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let port = try #require(try await Self.listeningPort(output))
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        let running = Task {
            try await connection.call("/apikeys.v1.Conformance/Echo", APIKeysV1.EchoRequest(sleepMillis: 2_000, responseSize: 1), as: APIKeysV1.EchoResponse.self)
        }
        try await Self.waitUntilRunning(connection)
        kill(process.processIdentifier, SIGTERM)
        let reply = try await running.value
        #expect(reply.payload.count == 1)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!process.isRunning)
        #expect(process.terminationStatus == 0)
    }

    /// Waits until the server runs the sleeping call: a probe sees two calls in flight.
    /// (A fixed sleep is not enough on a loaded machine: the call might not have arrived.)
    static func waitUntilRunning(_ connection: RPCConnection) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let probe: APIKeysV1.EchoResponse = try await connection.call("/apikeys.v1.Conformance/Echo", APIKeysV1.EchoRequest())
            if probe.callsInFlight >= 2 { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("the sleeping call never started on the server")
    }

    /// Reads apikeysd's stdout until its "listening on HOST:PORT" line.
    static func listeningPort(_ pipe: Pipe) async throws -> Int? {
        var text = ""
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }),
               let port = line.split(separator: ":").last.flatMap({ Int($0) }) {
                return port
            }
        }
        return nil
    }
}
