@testable import APIKeysWire
import NIOCore
import Synchronization
import Testing

/// Issue 12: a server that ends a connection while the client is still sending must not
/// lose its last frames. Closing a socket with unread input makes the kernel send RST,
/// which discards output the kernel had not sent yet, and fails the client's next write
/// before it reads what did arrive. The server half-closes instead, reads and drops what
/// comes until the client closes, and only then closes (`closeGracefully`).
@Suite("Graceful close under client writes", .timeLimit(.minutes(1)))
struct GracefulCloseTests {
    /// Cancel frames for calls that do not exist: input the server reads and ignores.
    static let noise = Wire.repeated(FrameCodec.encode(.cancel(callID: 999_999)), count: 64)

    /// Keeps writing `noise` until the connection closes; returns how many writes the
    /// socket took.
    static func writeContinuously(_ client: RawClient) -> Task<Int, Never> {
        Task {
            var writes = 0
            while !client.closed, writes < 200_000 {
                do { try await client.send(noise) } catch { break }
                writes += 1
                try? await Task.sleep(for: .milliseconds(1))
            }
            return writes
        }
    }

    @Test("drain (issue 12): GoAway and every pending answer arrive though the client kept writing after the drain began")
    func drainWhileTheClientWrites() async throws {
        let server = try await TestServer.start()
        // Reads only when told, through a small receive buffer: the answers wait in the
        // server's kernel, where a reset would discard them.
        let client = try await RawClient.connect(port: server.port, reading: .manual(chunk: 16 * 1024))
        let calls = 8
        let size = 64 * 1024
        var requests = Preface.bytes
        for id in 1...calls {
            requests += FrameCodec.encode(.request(RequestFrame(
                callID: UInt64(id), method: "/test.Wire/FillLater", message: APIKeysV1.EchoRequest(responseSize: UInt32(size)).serializedBytes())))
        }
        try await client.send(requests)
        await eventually("the calls to start") { server.probe.startedIDs.count == calls }

        let writer = Self.writeContinuously(client)
        try await Task.sleep(for: .milliseconds(50))
        let shutdown = Task { await server.server.shutdown() }
        let reader = Task {
            let end = ContinuousClock.now + .seconds(20)
            while !client.closed, ContinuousClock.now < end {
                client.readChunk()
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        // The GoAway reaches the client's kernel before the answers are ready.
        await eventually("the GoAway") { client.frames.contains { if case .goAway = $0 { true } else { false } } }
        server.gate.open()
        await reader.value
        let writes = await writer.value
        await shutdown.value

        #expect(client.closed)
        #expect(writes > 20, "the client kept writing through the drain (\(writes) writes)")
        let goAway = client.frames.first { if case .goAway = $0 { true } else { false } }
        #expect(goAway == .goAway(GoAwayFrame(lastCallID: UInt64(calls), reason: .noError, message: "the server is shutting down")))
        let answered = client.frames.compactMap { frame -> UInt64? in
            guard case .response(let response) = frame, response.code == .ok,
                  (try? APIKeysV1.EchoResponse(serializedBytes: response.message))?.payload.count == size else { return nil }
            return response.callID
        }
        #expect(Set(answered) == Set(1...UInt64(calls)), "answers received: \(answered.sorted())")
        await client.close()
    }

    @Test("error GoAway (issue 12): a client that keeps writing still reads the answers queued before it and the GoAway that explains the close")
    func errorGoAwayWhileTheClientWrites() async throws {
        let server = try await TestServer.start()
        let client = try await RawClient.connect(port: server.port, reading: .manual(chunk: 16 * 1024))
        let calls = 8
        let size = 64 * 1024
        var requests = Preface.bytes
        for id in 1...calls {
            requests += FrameCodec.encode(.request(RequestFrame(
                callID: UInt64(id), method: "/test.Wire/Fill", message: APIKeysV1.EchoRequest(responseSize: UInt32(size)).serializedBytes())))
        }
        try await client.send(requests)
        await eventually("the calls to run") { server.probe.startedIDs.count == calls }
        let writer = Self.writeContinuously(client)
        try await Task.sleep(for: .milliseconds(50))
        // A call ID not above the previous one breaks the protocol: the GoAway queues behind
        // the answers the client has not read yet, then the server closes.
        try await client.send(FrameCodec.encode(.request(RequestFrame(callID: 3, method: "/test.Wire/Fill"))))
        try await Task.sleep(for: .milliseconds(50))
        let end = ContinuousClock.now + .seconds(20)
        while !client.closed, ContinuousClock.now < end {
            client.readChunk()
            try await Task.sleep(for: .milliseconds(2))
        }
        let writes = await writer.value
        #expect(client.closed)
        #expect(writes > 20, "the client kept writing (\(writes) writes)")
        let answered = client.frames.filter { if case .response(let response) = $0 { response.message.count > size } else { false } }
        #expect(answered.count == calls)
        #expect(client.frames.last == .goAway(GoAwayFrame(
            lastCallID: UInt64(calls), reason: .protocolError, message: "call ID 3 is not above the previous call ID \(calls)")))
        await client.close()
        await server.server.shutdown()
    }
}
