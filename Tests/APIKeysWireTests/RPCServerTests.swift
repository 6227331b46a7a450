@testable import APIKeysWire
import NIOCore
import Synchronization
import Testing

/// Records what the server-side handlers saw.
final class CallProbe: Sendable {
    private let state = Mutex<(started: Set<UInt64>, cancelled: Set<UInt64>)>(([], []))

    func started(_ id: UInt64) { _ = state.withLock { $0.started.insert(id) } }
    func cancelled(_ id: UInt64) { _ = state.withLock { $0.cancelled.insert(id) } }
    var startedIDs: Set<UInt64> { state.withLock { $0.started } }
    var cancelledIDs: Set<UInt64> { state.withLock { $0.cancelled } }
}

/// A real server on 127.0.0.1, port 0, with test methods:
/// - `/test.Wire/Echo`: sleeps `sleepMillis` (recording a cancellation), then echoes the payload.
/// - `/test.Wire/Wait`: waits for the gate, then echoes the payload.
/// - `/test.Wire/Fill`: non-blocking; answers at once with `responseSize` bytes of payload.
/// - `/test.Wire/FillLater`: waits for the gate, then answers with `responseSize` bytes of payload.
struct TestServer {
    let server: RPCServer
    let port: Int
    let probe: CallProbe
    let gate: Gate

    static func start(maxConcurrentCalls: Int = 256,
                      configure: (inout RPCServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        let probe = CallProbe()
        let gate = Gate()
        var router = RPCRouter()
        router.register("/test.Wire/Echo") { (request: APIKeysV1.EchoRequest, call: ServerCall) async throws -> APIKeysV1.EchoResponse in
            probe.started(call.callID)
            if request.sleepMillis > 0 {
                do {
                    try await Task.sleep(for: .milliseconds(Int(request.sleepMillis)))
                } catch {
                    probe.cancelled(call.callID)
                    throw error
                }
            }
            return APIKeysV1.EchoResponse(payload: request.payload, metadata: request.echoMetadata ? call.metadata : [:],
                                callsInFlight: UInt32(call.callsInFlight))
        }
        router.registerNonBlocking("/test.Wire/Fill") { (request: APIKeysV1.EchoRequest, call: ServerCall) throws -> APIKeysV1.EchoResponse in
            probe.started(call.callID)
            return APIKeysV1.EchoResponse(payload: [UInt8](repeating: 0x46, count: Int(request.responseSize)))
        }
        router.register("/test.Wire/FillLater") { (request: APIKeysV1.EchoRequest, call: ServerCall) async throws -> APIKeysV1.EchoResponse in
            probe.started(call.callID)
            await gate.wait()
            return APIKeysV1.EchoResponse(payload: [UInt8](repeating: 0x4C, count: Int(request.responseSize)))
        }
        router.register("/test.Wire/Wait") { (request: APIKeysV1.EchoRequest, call: ServerCall) async throws -> APIKeysV1.EchoResponse in
            probe.started(call.callID)
            await gate.wait()
            return APIKeysV1.EchoResponse(payload: request.payload)
        }
        var configuration = RPCServerConfiguration()
        configuration.port = 0
        configuration.threads = 1
        configuration.serverName = "wiretests"
        configuration.shutdownGracePeriod = .seconds(5)
        configuration.connection.maxConcurrentCalls = maxConcurrentCalls
        configure(&configuration)
        let server = RPCServer(router: router, configuration: configuration)
        let address = try await server.start()
        return TestServer(server: server, port: try #require(address.port), probe: probe, gate: gate)
    }

    func connect() async throws -> RPCConnection {
        try await RPCConnection.connect(host: "127.0.0.1", port: port)
    }

    /// Runs `body` with a server and one connection, then closes both.
    static func with(maxConcurrentCalls: Int = 256,
                     _ body: (TestServer, RPCConnection) async throws -> Void) async throws {
        let server = try await start(maxConcurrentCalls: maxConcurrentCalls)
        do {
            let connection = try await server.connect()
            defer { Task { await connection.close() } }
            try await body(server, connection)
        } catch {
            server.gate.open()
            await server.server.shutdown()
            throw error
        }
        server.gate.open()
        await server.server.shutdown()
    }
}

@Suite("RPCServer and RPCConnection over TCP", .timeLimit(.minutes(1)))
struct RPCServerTests {
    static let echo = "/test.Wire/Echo"

    @Test("a call round trip, with metadata, and the server's settings")
    func roundTrip() async throws {
        try await TestServer.with { _, connection in
            #expect(connection.serverSettings.server == "wiretests")
            #expect(connection.serverSettings.maxConcurrentCalls == 256)
            #expect(connection.serverSettings.protocolVersion == 1)
            let reply = try await connection.call(Self.echo, APIKeysV1.EchoRequest(payload: [1, 2, 3], echoMetadata: true),
                                                  metadata: ["x-user-id": "u1"], as: APIKeysV1.EchoResponse.self)
            #expect(reply.payload == [1, 2, 3])
            #expect(reply.metadata == ["x-user-id": "u1"])
        }
    }

    @Test("an unknown method is UNIMPLEMENTED and the connection stays usable")
    func unknownMethod() async throws {
        try await TestServer.with { _, connection in
            let error = await #expect(throws: RPCError.self) {
                try await connection.call("/test.Wire/Nope", APIKeysV1.EchoRequest(), as: APIKeysV1.EchoResponse.self)
            }
            #expect(error?.code == .unimplemented)
            let reply = try await connection.call(Self.echo, APIKeysV1.EchoRequest(payload: [9]), as: APIKeysV1.EchoResponse.self)
            #expect(reply.payload == [9])
        }
    }

    @Test("200 concurrent calls on one connection each get their own answer")
    func concurrentCalls() async throws {
        try await TestServer.with { server, connection in
            let replies = try await withThrowingTaskGroup(of: (Int, APIKeysV1.EchoResponse).self) { group in
                for i in 0..<200 {
                    group.addTask {
                        let payload = [UInt8(i & 0xFF), UInt8(i >> 8)]
                        return (i, try await connection.call(Self.echo, APIKeysV1.EchoRequest(sleepMillis: 20, payload: payload), as: APIKeysV1.EchoResponse.self))
                    }
                }
                var replies: [Int: APIKeysV1.EchoResponse] = [:]
                for try await (i, reply) in group { replies[i] = reply }
                return replies
            }
            #expect(replies.count == 200)
            for (i, reply) in replies {
                #expect(reply.payload == [UInt8(i & 0xFF), UInt8(i >> 8)], "call \(i)")
            }
            #expect(server.probe.startedIDs.count == 200)
            // The calls really overlapped on the server.
            #expect(replies.values.map(\.callsInFlight).max()! > 1)
        }
    }

    @Test("cancelling the calling task sends Cancel: the server's task is cancelled")
    func taskCancellation() async throws {
        try await TestServer.with { server, connection in
            let task = Task {
                try await connection.call(Self.echo, APIKeysV1.EchoRequest(sleepMillis: 30_000), as: APIKeysV1.EchoResponse.self)
            }
            await eventually("the call to start on the server") { server.probe.startedIDs.count == 1 }
            task.cancel()
            let result = await task.result
            let error = #expect(throws: RPCError.self) { try result.get() }
            #expect(error?.code == .cancelled)
            await eventually("the server to cancel the call") {
                !server.probe.cancelledIDs.isEmpty && server.probe.cancelledIDs == server.probe.startedIDs
            }
            // The connection is still good.
            let reply = try await connection.call(Self.echo, APIKeysV1.EchoRequest(payload: [5]), as: APIKeysV1.EchoResponse.self)
            #expect(reply.payload == [5])
        }
    }

    @Test("a client timeout gives DEADLINE_EXCEEDED and stops the server's work")
    func timeout() async throws {
        try await TestServer.with { server, connection in
            let started = ContinuousClock.now
            let error = await #expect(throws: RPCError.self) {
                try await connection.call(Self.echo, APIKeysV1.EchoRequest(sleepMillis: 30_000), timeout: .milliseconds(100), as: APIKeysV1.EchoResponse.self)
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(ContinuousClock.now - started < .seconds(5))
            await eventually("the server to cancel the call") { server.probe.cancelledIDs.count == 1 }
        }
    }

    @Test("graceful shutdown: the call in flight completes OK, a later call gets UNAVAILABLE")
    func gracefulShutdown() async throws {
        let server = try await TestServer.start()
        let connection = try await server.connect()
        let inFlight = Task {
            try await connection.call("/test.Wire/Wait", APIKeysV1.EchoRequest(payload: [7]), as: APIKeysV1.EchoResponse.self)
        }
        await eventually("the call to start on the server") { server.probe.startedIDs.count == 1 }

        let shutdown = Task { await server.server.shutdown() }
        // Until the GoAway arrives, quick calls still run; after it, they are refused.
        var refusal: RPCError?
        await eventually("a call to be refused") {
            do {
                _ = try await connection.call(Self.echo, APIKeysV1.EchoRequest(), as: APIKeysV1.EchoResponse.self)
                return false
            } catch let error as RPCError {
                refusal = error
                return true
            } catch {
                return false
            }
        }
        #expect(refusal?.code == .unavailable)

        server.gate.open()
        let reply = try await inFlight.value
        #expect(reply.payload == [7])
        await shutdown.value
        await eventually("the connection to close") { !connection.isActive }
        let late = await #expect(throws: RPCError.self) {
            try await connection.call(Self.echo, APIKeysV1.EchoRequest(), as: APIKeysV1.EchoResponse.self)
        }
        #expect(late?.code == .unavailable)
    }

    @Test("graceful shutdown over TCP, seen by a bare client: GoAway(last call), a later call ID UNAVAILABLE, the call in flight OK, then close")
    func gracefulShutdownRaw() async throws {
        let server = try await TestServer.start()
        let client = try await RawClient.connect(port: server.port)
        try await client.send(Preface.bytes + FrameCodec.encode(.request(RequestFrame(
            callID: 1, method: "/test.Wire/Wait", message: APIKeysV1.EchoRequest(payload: [1]).serializedBytes()))))
        await eventually("the call to start on the server") { server.probe.startedIDs == [1] }

        let shutdown = Task { await server.server.shutdown() }
        let goAway = Frame.goAway(GoAwayFrame(lastCallID: 1, reason: .noError, message: "the server is shutting down"))
        await eventually("the GoAway") { client.frames.contains(goAway) }

        try await client.send(FrameCodec.encode(.request(RequestFrame(callID: 2, method: Self.echo))))
        await eventually("call 2 to be refused") { client.frames.count == 3 }
        if case .response(let refused) = client.frames.last {
            #expect(refused.callID == 2)
            #expect(refused.code == .unavailable)
        } else {
            Issue.record("expected a response to call 2, got \(client.frames)")
        }
        #expect(!server.probe.startedIDs.contains(2))

        server.gate.open()
        await eventually("the connection to close") { client.closed }
        #expect(client.frames.last == .response(ResponseFrame(callID: 1, message: APIKeysV1.EchoResponse(payload: [1]).serializedBytes())))
        await shutdown.value
        await client.close()
    }

    @Test("a connection beyond maxConnections gets GoAway tooManyConnections and is closed")
    func tooManyConnections() async throws {
        var configuration = RPCServerConfiguration()
        configuration.port = 0
        configuration.threads = 1
        configuration.maxConnections = 1
        let server = RPCServer(router: RPCRouter(), configuration: configuration)
        let port = try #require(try await server.start().port)
        let first = try await RawClient.connect(port: port)
        try await first.send(Preface.bytes)
        await eventually("the first connection's settings") { first.frames.count == 1 }
        #expect(server.connectionCount == 1)

        let second = try await RawClient.connect(port: port)
        try? await second.send(Preface.bytes)
        await eventually(timeout: .seconds(2), "the over-limit connection to get a GoAway and be closed") {
            second.closed
        }
        #expect(second.frames == [.goAway(GoAwayFrame(
            lastCallID: 0, reason: .tooManyConnections, message: "the server has 1 connections already"))])
        #expect(server.connectionCount == 1)
        await second.close()
        await first.close()
        await server.shutdown()
    }

    @Test("a huge timeout_micros is accepted as a far deadline")
    func hugeTimeout() async throws {
        let server = try await TestServer.start()
        let client = try await RawClient.connect(port: server.port)
        try await client.send(Preface.bytes + FrameCodec.encode(.request(RequestFrame(
            callID: 1, method: Self.echo, timeoutMicros: UInt64.max, message: APIKeysV1.EchoRequest(payload: [3]).serializedBytes()))))
        await eventually("the answer") { client.frames.count == 2 }
        #expect(client.frames.last == .response(ResponseFrame(callID: 1, message: APIKeysV1.EchoResponse(payload: [3], callsInFlight: 1).serializedBytes())))
        await client.close()
        await server.server.shutdown()
    }

    @Test("keepalive: a silent client is pinged, and without a pong gets GoAway keepaliveTimeout and is closed")
    func keepaliveUnanswered() async throws {
        let server = try await TestServer.start { configuration in
            configuration.connection.keepaliveInterval = .milliseconds(100)
            configuration.connection.idleTimeout = .seconds(60)
        }
        let client = try await RawClient.connect(port: server.port)
        try await client.send(Preface.bytes)
        await eventually("the connection to close") { client.closed }
        let frames = client.frames
        #expect(frames.count == 3)
        #expect(frames.dropFirst().first == .ping(1))
        if case .goAway(let goAway)? = frames.last {
            #expect(goAway.reason == .keepaliveTimeout)
        } else {
            Issue.record("expected a GoAway last, got \(frames)")
        }
        await client.close()
        await server.server.shutdown()
    }

    @Test("keepalive: a client that answers pings stays connected")
    func keepaliveAnswered() async throws {
        let server = try await TestServer.start { configuration in
            // Long enough that a loaded machine still answers each ping within an interval.
            configuration.connection.keepaliveInterval = .milliseconds(250)
            configuration.connection.idleTimeout = .seconds(60)
        }
        let connection = try await server.connect()
        try await Task.sleep(for: .milliseconds(1_200))
        #expect(connection.isActive)
        let reply = try await connection.call(Self.echo, APIKeysV1.EchoRequest(payload: [4]), as: APIKeysV1.EchoResponse.self)
        #expect(reply.payload == [4])
        await connection.close()
        await server.server.shutdown()
    }

    @Test("idle: a connection with no call gets GoAway idleTimeout even though it answers keepalive pings")
    func idleDespiteKeepalive() async throws {
        // With the defaults (keepalive 60 s < idle 300 s) a client that answers pings must still
        // be closed when it has had no call for the idle timeout (PROTOCOL.md §5).
        let server = try await TestServer.start { configuration in
            // Long enough that a loaded machine (the suites run in parallel, and the first run
            // after a build starts cold) answers each ping and sends its first call in time;
            // still twelve pings before the idle timeout.
            configuration.connection.keepaliveInterval = .milliseconds(250)
            configuration.connection.idleTimeout = .seconds(3)
        }
        let connection = try await server.connect()
        _ = try await connection.call(Self.echo, APIKeysV1.EchoRequest(), as: APIKeysV1.EchoResponse.self)
        await eventually(timeout: .seconds(10), "the idle connection to be closed") { !connection.isActive }
        await connection.close()
        await server.server.shutdown()
    }

    @Test("idle: a connection that stays silent (no keepalive before the idle timeout) gets GoAway idleTimeout")
    func idleSilent() async throws {
        let server = try await TestServer.start { configuration in
            configuration.connection.keepaliveInterval = .seconds(60)
            // Long enough for a loaded machine to send the preface first (without it, the idle
            // timeout is a handshake timeout), also on the cold first run after a build.
            configuration.connection.idleTimeout = .seconds(2)
        }
        let client = try await RawClient.connect(port: server.port)
        try await client.send(Preface.bytes)
        await eventually("the connection to close") { client.closed }
        if case .goAway(let goAway)? = client.frames.last {
            #expect(goAway.reason == .idleTimeout)
        } else {
            Issue.record("expected a GoAway last, got \(client.frames)")
        }
        await client.close()
        await server.server.shutdown()
    }
}
