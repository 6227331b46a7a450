@testable import APIKeysWire
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Backpressure over TCP against a real `RPCServer`: a client that leaves the server's output
/// unread stops being read, the server's unwritten output stays under its bound, and reading
/// resumes when the client reads; slow readers keep their connection, non-readers do not.
@Suite("Backpressure over TCP", .timeLimit(.minutes(1)))
struct RPCServerBackpressureTests {
    static let fill = "/test.Wire/Fill"
    static let overhead = ServerConnectionStateMachine.perFrameOverhead
    /// The clients of this suite move megabytes: a loop of their own keeps them from delaying
    /// the clients of timing-sensitive suites running in parallel.
    static let clients = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Calls `ids` to Fill, each asking `responseSize` bytes and carrying `payload` bytes.
    static func fillRequests(_ ids: ClosedRange<UInt64>, responseSize: Int, payload: Int = 0) -> [UInt8] {
        let message = APIKeysV1.EchoRequest(responseSize: UInt32(responseSize), payload: [UInt8](repeating: 0x52, count: payload)).serializedBytes()
        var bytes: [UInt8] = []
        for id in ids {
            bytes += FrameCodec.encode(.request(RequestFrame(callID: id, method: fill, message: message)))
        }
        return bytes
    }

    /// The only connection's backpressure state (nil while it is not there).
    static func state(of server: TestServer) async -> ServerConnectionHandler.Backpressure? {
        await server.server.backpressure().first
    }

    /// Every response, in call ID order, checked OK with `size` bytes of payload.
    static func expectAllFilled(_ frames: [Frame], count: Int, size: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let responses = frames.compactMap { frame -> ResponseFrame? in
            if case .response(let r) = frame { return r } else { return nil }
        }
        #expect(responses.map(\.callID) == Array(1...UInt64(count)), sourceLocation: sourceLocation)
        #expect(responses.allSatisfy { $0.code == .ok }, sourceLocation: sourceLocation)
        #expect(responses.allSatisfy { (try? APIKeysV1.EchoResponse(serializedBytes: $0.message))?.payload.count == size },
                sourceLocation: sourceLocation)
    }

    @Test("a client that does not read: the server stops reading it with its output under the bound, and resumes when it reads")
    func readsStopAndResume() async throws {
        let bound = 256 * 1024
        let server = try await TestServer.start { $0.connection.maxUnwrittenBytes = bound }
        let client = try await RawClient.connect(port: server.port, reading: .manual(chunk: 16 * 1024), group: Self.clients)
        // 19 MiB of requests asking 9 MiB of answers: far more than the kernel buffers of both
        // sockets hold, so the client's write can only finish if the server reads on.
        let count = 1_200, size = 8 * 1024
        let sending = client.write(Preface.bytes + Self.fillRequests(1...UInt64(count), responseSize: size, payload: 16 * 1024))
        let worst = Mutex(0)
        // Paused on two looks 100 ms apart with no call started between: not a pause that the
        // kernel's buffers resolve at once.
        let lastLook = Mutex<(paused: Bool, started: Int)>((false, -1))
        await eventually(timeout: .seconds(30), "the server to stop reading") {
            try? await Task.sleep(for: .milliseconds(100))
            guard let state = await Self.state(of: server) else { return false }
            worst.withLock { $0 = max($0, state.unwrittenBytes) }
            let look = (paused: state.readingPaused, started: server.probe.startedIDs.count)
            let previous = lastLook.withLock { last in defer { last = look }; return last }
            return previous.paused && look.paused && previous.started == look.started
        }
        // Reading stopped is something not happening: watch it not happen for a while.
        let startedAtPause = server.probe.startedIDs.count
        for _ in 0..<10 {
            try await Task.sleep(for: .milliseconds(50))
            let state = await Self.state(of: server)
            worst.withLock { $0 = max($0, state?.unwrittenBytes ?? 0) }
            #expect(state?.readingPaused == true)
        }
        #expect(server.probe.startedIDs.count == startedAtPause)
        #expect(startedAtPause < count)
        #expect(!sending.isDone)
        // One response may cross the bound; nothing beyond it.
        #expect(worst.withLock { $0 } <= bound + size + 1024 + Self.overhead)

        try await client.readEverything()
        await eventually(timeout: .seconds(40), "every answer") { client.frames.count == count + 1 }
        Self.expectAllFilled(client.frames, count: count, size: size)
        #expect(sending.isDone)
        let after = await Self.state(of: server)
        #expect(after == .init(unwrittenBytes: 0, readingPaused: false, heldFrames: 0, unsentResponses: 0))
        await client.close()
        await server.server.shutdown()
    }

    @Test("responses the client has not read hold their call's slot: further calls get RESOURCE_EXHAUSTED")
    func unsentResponsesCountTowardTheLimit() async throws {
        let server = try await TestServer.start(maxConcurrentCalls: 2)
        let client = try await RawClient.connect(port: server.port, reading: .manual(chunk: 64 * 1024), group: Self.clients)
        // 40 × 512 KiB = 20 MiB of answers, well over what the kernel buffers for an unread socket.
        let count = 40, size = 512 * 1024
        try await client.send(Preface.bytes + Self.fillRequests(1...UInt64(count), responseSize: size))
        await eventually(timeout: .seconds(20), "two unsent responses") {
            await Self.state(of: server)?.unsentResponses == 2
        }
        try await client.readEverything()
        await eventually(timeout: .seconds(20), "every answer") { client.frames.count == count + 1 }
        let responses = client.frames.compactMap { frame -> ResponseFrame? in
            if case .response(let r) = frame { return r } else { return nil }
        }
        let refused = responses.filter { $0.code == .resourceExhausted }
        #expect(!refused.isEmpty)
        #expect(responses.count == count)
        #expect(server.probe.startedIDs.count == count - refused.count)
        await client.close()
        await server.server.shutdown()
    }

    @Test("a slow reader that keeps reading is neither pinged out nor idled out while the server waits for it")
    func slowReaderKeepsItsConnection() async throws {
        let server = try await TestServer.start { configuration in
            configuration.connection.maxUnwrittenBytes = 64 * 1024
            // Room for a loaded machine (the suites run in parallel) to answer a ping in time.
            configuration.connection.keepaliveInterval = .seconds(1)
            configuration.connection.idleTimeout = .seconds(3)
        }
        let client = try await RawClient.connect(port: server.port, reading: .manual(chunk: 64 * 1024), answerPings: true, group: Self.clients)
        // 200 × 64 KiB = 12.5 MiB read a chunk every 10 ms: about 1.5 MiB/s on a loaded
        // machine, so several keepalive intervals and more than an idle timeout.
        let count = 200, size = 64 * 1024
        try await client.send(Preface.bytes + Self.fillRequests(1...UInt64(count), responseSize: size))
        let reader = Task {
            while !Task.isCancelled {
                client.readChunk()
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        await eventually(timeout: .seconds(45), "every answer, or the close") {
            client.closed || client.frames.filter { if case .response = $0 { true } else { false } }.count == count
        }
        reader.cancel()
        let goAways = client.frames.filter { if case .goAway = $0 { true } else { false } }
        #expect(goAways.isEmpty)
        #expect(!client.closed)
        Self.expectAllFilled(client.frames.filter { if case .ping = $0 { false } else { true } }, count: count, size: size)
        await client.close()
        await server.server.shutdown()
    }

    @Test("a client that reads nothing is closed after the idle timeout though it keeps requests coming")
    func nonReaderClosedAfterIdleTimeout() async throws {
        let bound = 64 * 1024
        let server = try await TestServer.start { configuration in
            configuration.connection.maxUnwrittenBytes = bound
            configuration.connection.keepaliveInterval = .milliseconds(250)
            configuration.connection.idleTimeout = .milliseconds(1_500)
        }
        let client = try await RawClient.connect(port: server.port, reading: .manual(chunk: 16 * 1024), group: Self.clients)
        let size = 64 * 1024
        _ = client.write(Preface.bytes + Self.fillRequests(1...1_000, responseSize: size, payload: 1024))
        await eventually(timeout: .seconds(10), "the server to stop reading") {
            await Self.state(of: server)?.readingPaused == true
        }
        let paused = ContinuousClock.now
        let worst = Mutex(0)
        await eventually(timeout: .seconds(20), "the server to close the connection") {
            let states = await server.server.backpressure()
            worst.withLock { $0 = max($0, states.first?.unwrittenBytes ?? 0) }
            return server.server.connectionCount == 0
        }
        // The idle timeout counts from the last output the client took, before the pause.
        #expect(ContinuousClock.now - paused >= .milliseconds(1_000))
        #expect(worst.withLock { $0 } <= bound + size + 1024 + Self.overhead)
        await client.close()
        await server.server.shutdown()
    }

    @Test("an answer that comes after longer than the idle timeout, read slowly, is not taken for a stalled reader")
    func lateAnswerReadSlowly() async throws {
        let server = try await TestServer.start { configuration in
            configuration.connection.idleTimeout = .seconds(2)
        }
        let client = try await RawClient.connect(port: server.port, reading: .manual(chunk: 64 * 1024), group: Self.clients)
        // The answer waits for the slow reader; the stall clock must start then, not at the
        // last write (the settings, 3 s earlier).
        let payload = [UInt8](repeating: 7, count: 1024 * 1024)
        try await client.send(Preface.bytes + FrameCodec.encode(.request(RequestFrame(
            callID: 1, method: "/test.Wire/Echo", message: APIKeysV1.EchoRequest(sleepMillis: 3_000, payload: payload).serializedBytes()))))
        let reader = Task {
            while !Task.isCancelled {
                client.readChunk()
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        await eventually(timeout: .seconds(20), "the answer, or the close") {
            client.closed || client.frames.count == 2
        }
        reader.cancel()
        #expect(!client.closed)
        #expect(client.frames.last == .response(ResponseFrame(
            callID: 1, message: APIKeysV1.EchoResponse(payload: payload, callsInFlight: 1).serializedBytes())))
        await client.close()
        await server.server.shutdown()
    }

    /// Calls `ids` to FillLater (answered when the gate opens), each asking `responseSize` bytes.
    static func fillLaterRequests(_ ids: ClosedRange<UInt64>, responseSize: Int) -> [UInt8] {
        let message = APIKeysV1.EchoRequest(responseSize: UInt32(responseSize)).serializedBytes()
        var bytes: [UInt8] = []
        for id in ids {
            bytes += FrameCodec.encode(.request(RequestFrame(callID: id, method: "/test.Wire/FillLater", message: message)))
        }
        return bytes
    }

    static func responses(_ frames: [Frame]) -> [ResponseFrame] {
        frames.compactMap { frame -> ResponseFrame? in
            if case .response(let r) = frame { return r } else { return nil }
        }
    }

    @Test("the review's burst: 100 calls started before any answer, each answering 1–4 MiB, never read: the queued output stays under twice the bound")
    func burstOfLargeAnswersStaysBounded() async throws {
        let bound = 2 * 1024 * 1024
        let server = try await TestServer.start(maxConcurrentCalls: 100) { $0.connection.maxUnwrittenBytes = bound }
        let client = try await RawClient.connect(port: server.port, reading: .manual(chunk: 64 * 1024), group: Self.clients)
        let count = 100
        // Tiny requests: all 100 are read and started before the first answer exists.
        var requests = Preface.bytes
        for id in 1...UInt64(count) {
            requests += Self.fillLaterRequests(id...id, responseSize: (1 + Int(id) % 4) * 1024 * 1024 - 1024)
        }
        try await client.send(requests)
        await eventually(timeout: .seconds(10), "every call started") { server.probe.startedIDs.count == count }
        server.gate.open()
        let worst = Mutex((connection: 0, server: 0))
        await eventually(timeout: .seconds(20), "every call answered") {
            let state = await Self.state(of: server)
            worst.withLock {
                $0.connection = max($0.connection, state?.unwrittenBytes ?? 0)
                $0.server = max($0.server, server.server.unwrittenOutput.total)
            }
            return state?.callsInFlight == 0
        }
        let hardLimit = 2 * bound + count * (ServerConnectionStateMachine.alwaysQueuedResponseBytes + Self.overhead)
        #expect(worst.withLock { $0.connection } <= hardLimit)
        #expect(worst.withLock { $0.server } <= hardLimit)
        // Under the hard limit, far below the 250 MiB the answers would take.
        #expect(worst.withLock { $0.connection } < 6 * 1024 * 1024)

        try await client.readEverything()
        await eventually(timeout: .seconds(20), "every answer") { Self.responses(client.frames).count == count }
        let responses = Self.responses(client.frames)
        let answered = responses.filter { $0.code == .ok }
        let dropped = responses.filter { $0.code == .resourceExhausted }
        #expect(answered.count + dropped.count == count)
        #expect(answered.count >= 1)
        // The kernel's socket buffers take a little; the rest of 250 MiB is refused.
        #expect(dropped.count >= count / 2)
        #expect(dropped.allSatisfy { $0.statusMessage.contains("read your responses") })
        await eventually(timeout: .seconds(5), "the output drained") { server.server.unwrittenOutput.total == 0 }
        await client.close()
        await server.server.shutdown()
    }

    @Test("a client that reads still gets an answer larger than twice the bound, and many concurrent small answers")
    func readerGetsLargeAnswer() async throws {
        let server = try await TestServer.start(maxConcurrentCalls: 100) { $0.connection.maxUnwrittenBytes = 512 * 1024 }
        let connection = try await server.connect()
        let size = 4 * 1024 * 1024 - 1024
        let reply = try await connection.call("/test.Wire/Fill", APIKeysV1.EchoRequest(responseSize: UInt32(size)), as: APIKeysV1.EchoResponse.self)
        #expect(reply.payload.count == size)
        server.gate.open()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    try await connection.call("/test.Wire/Echo", APIKeysV1.EchoRequest(payload: [1, 2, 3]), as: APIKeysV1.EchoResponse.self).payload.count
                }
            }
            for try await count in group { #expect(count == 3) }
        }
        await connection.close()
        await server.server.shutdown()
    }

    @Test("the server-wide bound: two non-reading connections together hold at most maxServerUnwrittenBytes of large answers")
    func serverWideBound() async throws {
        let serverBound = 3 * 1024 * 1024
        let server = try await TestServer.start(maxConcurrentCalls: 100) { $0.maxServerUnwrittenBytes = serverBound }
        var clients: [RawClient] = []
        for first in [UInt64(1), 21] {
            let client = try await RawClient.connect(port: server.port, reading: .manual(chunk: 64 * 1024), group: Self.clients)
            try await client.send(Preface.bytes + Self.fillLaterRequests(first...first + 19, responseSize: 1024 * 1024))
            clients.append(client)
        }
        await eventually(timeout: .seconds(10), "every call started") { server.probe.startedIDs.count == 40 }
        server.gate.open()
        let worst = Mutex(0)
        await eventually(timeout: .seconds(20), "every call answered") {
            worst.withLock { $0 = max($0, server.server.unwrittenOutput.total) }
            let states = await server.server.backpressure()
            return states.count == 2 && states.allSatisfy { $0.callsInFlight == 0 }
        }
        worst.withLock { $0 = max($0, server.server.unwrittenOutput.total) }
        // One event loop here, so no race between the check and the count.
        #expect(worst.withLock { $0 } <= serverBound + 40 * (ServerConnectionStateMachine.alwaysQueuedResponseBytes + Self.overhead))
        for client in clients {
            try await client.readEverything()
        }
        for client in clients {
            await eventually(timeout: .seconds(20), "every answer") { Self.responses(client.frames).count == 20 }
        }
        let all = clients.flatMap { Self.responses($0.frames) }
        #expect(all.filter { $0.code == .resourceExhausted }.allSatisfy { $0.statusMessage.contains("retry later") })
        #expect(all.count == 40)
        // 40 MiB asked; what the kernel's socket buffers took aside, 3 MiB at most was held.
        #expect(all.filter { $0.code == .ok }.count <= 10)
        #expect(all.filter { $0.code == .resourceExhausted }.count >= 30)
        for client in clients { await client.close() }
        await server.server.shutdown()
    }

    @Test("X16: an unknown 1 MiB method name is answered UNIMPLEMENTED quoting at most 128 bytes of it")
    func unknownHugeMethodBoundedEcho() async throws {
        let server = try await TestServer.start()
        let client = try await RawClient.connect(port: server.port)
        let service = "/test.Wire/" + String(repeating: "m", count: 1024 * 1024)
        let unknownService = "/" + String(repeating: "s", count: 1024 * 1024) + "/M"
        try await client.send(Preface.bytes
            + FrameCodec.encode(.request(RequestFrame(callID: 1, method: service)))
            + FrameCodec.encode(.request(RequestFrame(callID: 2, method: unknownService)))
            + FrameCodec.encode(.request(RequestFrame(callID: 3, method: String(repeating: "é", count: 600_000)))))
        await eventually(timeout: .seconds(10), "three answers") { client.frames.count == 4 }
        for frame in client.frames.dropFirst() {
            guard case .response(let response) = frame else {
                Issue.record("expected a response, got \(frame)")
                continue
            }
            #expect(response.code == .unimplemented)
            #expect(response.statusMessage.utf8.count < 128 + 100, "\(response.statusMessage)")
            #expect(response.statusMessage.contains("cut, "))
        }
        await client.close()
        await server.server.shutdown()
    }
}
