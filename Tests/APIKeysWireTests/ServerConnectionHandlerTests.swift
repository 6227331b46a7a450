@testable import APIKeysWire
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@Suite("ServerConnectionHandler in the RPCServer pipeline")
struct ServerConnectionHandlerTests {
    struct Boom: Error {}

    static var router: RPCRouter {
        var router = RPCRouter()
        router.registerNonBlocking("/apikeys.v1.Health/Check") { (_: APIKeysV1.HealthCheckRequest, _) in
            APIKeysV1.HealthCheckResponse(status: .serving, version: "test")
        }
        router.registerNonBlocking("/test.Wire/Echo") { (request: APIKeysV1.EchoRequest, call: ServerCall) in
            if request.statusCode != 0 {
                throw RPCError(code: StatusCode(rawValue: request.statusCode), message: request.statusMessage)
            }
            if request.statusMessage == "boom" { throw Boom() }
            let payload = request.responseSize > 0 ? [UInt8](repeating: 1, count: Int(request.responseSize)) : request.payload
            return APIKeysV1.EchoResponse(payload: payload, metadata: request.echoMetadata ? call.metadata : [:],
                                callsInFlight: UInt32(call.callsInFlight))
        }
        return router
    }

    static var configuration: RPCServerConfiguration {
        var configuration = RPCServerConfiguration()
        configuration.serverName = "embedded"
        configuration.connection.maxFrameSize = 1024
        configuration.connection.maxConcurrentCalls = 7
        return configuration
    }

    /// The pipeline `RPCServer` builds for each connection.
    static func addServerHandlers(to pipeline: ChannelPipeline.SynchronousOperations, router: RPCRouter,
                                  configuration: RPCServerConfiguration,
                                  unwrittenOutput: UnwrittenOutput = UnwrittenOutput()) throws {
        try pipeline.addHandler(ServerConnectionHandler(router: router, configuration: configuration, unwrittenOutput: unwrittenOutput))
    }

    static func makeChannel(router: RPCRouter = router, configuration: RPCServerConfiguration = configuration,
                            unwrittenOutput: UnwrittenOutput = UnwrittenOutput()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try addServerHandlers(to: channel.pipeline.syncOperations, router: router, configuration: configuration,
                              unwrittenOutput: unwrittenOutput)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7420)).wait()
        return channel
    }

    /// Every frame the server wrote so far.
    static func written(_ channel: EmbeddedChannel) throws -> [Frame] {
        var all = ByteBuffer()
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            all.writeBuffer(&buffer)
        }
        return try Wire.frames(in: all)
    }

    static func send(_ channel: EmbeddedChannel, _ bytes: [UInt8]) throws {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
    }

    static let settings = Frame.settings(ServerSettings(
        maxFrameSize: 1024, maxConcurrentCalls: 7, idleTimeoutMillis: 300_000, keepaliveIntervalMillis: 60_000, server: "embedded"))

    static func goAwayReason(_ frames: [Frame]) -> GoAwayFrame.Reason? {
        for case .goAway(let goAway) in frames { return goAway.reason }
        return nil
    }

    @Test("the preface is answered with a settings frame holding the configured limits")
    func prefaceGetsSettings() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Preface.bytes)
        #expect(try Self.written(channel) == [Self.settings])
        #expect(channel.isActive)
        _ = try? channel.finish()
    }

    @Test("nothing is written before the preface is complete")
    func partialPreface() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Array(Preface.bytes.prefix(7)))
        #expect(try Self.written(channel) == [])
        try Self.send(channel, [Preface.bytes[7]])
        #expect(try Self.written(channel) == [Self.settings])
        _ = try? channel.finish()
    }

    @Test("a non-blocking handler's call is answered")
    func syncCall() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Preface.bytes + FrameCodec.encode(.request(RequestFrame(callID: 1, method: "/apikeys.v1.Health/Check"))))
        #expect(try Self.written(channel) == [
            Self.settings,
            .response(ResponseFrame(callID: 1, message: APIKeysV1.HealthCheckResponse(status: .serving, version: "test").serializedBytes())),
        ])
        _ = try? channel.finish()
    }

    /// The preface, then `count` Health/Check calls (IDs 1...count), as one client write.
    static func prefaceAndHealthChecks(_ count: UInt64) -> [UInt8] {
        var bytes = Preface.bytes
        for id in 1...count {
            bytes += FrameCodec.encode(.request(RequestFrame(callID: id, method: "/apikeys.v1.Health/Check")))
        }
        return bytes
    }

    @Test("issue 14: a flush's frames go out with one promise, and the server-wide unwritten output returns to 0 once written")
    func oneFlushReportsEveryFrame() throws {
        let output = UnwrittenOutput()
        let channel = try Self.makeChannel(unwrittenOutput: output)
        let bytes = Self.prefaceAndHealthChecks(3)
        try Self.send(channel, bytes)
        #expect(try Self.written(channel).count == 4)
        #expect(output.total == 0)
        _ = try? channel.finish()
    }

    @Test("issue 14: small and large answers of one flush (batched and in buffers of their own) arrive whole and in order")
    func mixedSizesInOneFlush() throws {
        var configuration = Self.configuration
        configuration.connection.maxFrameSize = 64 * 1024
        configuration.connection.maxConcurrentCalls = 32
        let output = UnwrittenOutput()
        let channel = try Self.makeChannel(configuration: configuration, unwrittenOutput: output)
        let sizes: [UInt32] = [10, 9_000, 20, 30, 5_000, 4_000, 1, 40_000, 7]
        var bytes = Preface.bytes
        for (index, size) in sizes.enumerated() {
            bytes += FrameCodec.encode(.request(RequestFrame(
                callID: UInt64(index + 1), method: "/test.Wire/Echo",
                message: APIKeysV1.EchoRequest(responseSize: size).serializedBytes())))
        }
        try Self.send(channel, bytes)
        let responses = try Self.written(channel).compactMap { frame -> ResponseFrame? in
            if case .response(let response) = frame { return response }
            return nil
        }
        #expect(responses.map(\.callID) == (1...UInt64(sizes.count)).map { $0 })
        for (response, size) in zip(responses, sizes) {
            let echoed = try APIKeysV1.EchoResponse(serializedBytes: response.message)
            #expect(echoed.payload == [UInt8](repeating: 1, count: Int(size)))
        }
        #expect(output.total == 0)
        _ = try? channel.finish()
    }

    @Test("issue 14: frames held for a flush that never comes (the connection closed first) are released, not counted as unwritten forever")
    func heldFramesReleasedOnClose() throws {
        let output = UnwrittenOutput()
        let channel = try Self.makeChannel(unwrittenOutput: output)
        let bytes = Self.prefaceAndHealthChecks(3)
        // A read with no read-complete after it: the answers wait for the flush.
        channel.pipeline.fireChannelRead(NIOAny(ByteBuffer(bytes: bytes)))
        #expect(output.total > 0)
        _ = try? channel.close().wait()
        #expect(output.total == 0)
        _ = try? channel.finish()
    }

    @Test("several calls in one read are all answered, in order")
    func severalCalls() throws {
        let channel = try Self.makeChannel()
        var bytes = Preface.bytes
        for id in UInt64(1)...3 {
            bytes += FrameCodec.encode(.request(RequestFrame(
                callID: id, method: "/test.Wire/Echo", metadata: ["n": "\(id)"],
                message: APIKeysV1.EchoRequest(payload: [UInt8(id)], echoMetadata: true).serializedBytes())))
        }
        try Self.send(channel, bytes)
        let frames = try Self.written(channel)
        #expect(frames.count == 4)
        for id in UInt64(1)...3 {
            let expected = APIKeysV1.EchoResponse(payload: [UInt8(id)], metadata: ["n": "\(id)"], callsInFlight: 1)
            #expect(frames.dropFirst().contains(.response(ResponseFrame(callID: id, message: expected.serializedBytes()))))
        }
        _ = try? channel.finish()
    }

    @Test("handler errors become statuses: RPCError as is, bad input INVALID_ARGUMENT, others INTERNAL")
    func handlerErrors() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Preface.bytes
            + FrameCodec.encode(.request(RequestFrame(callID: 1, method: "/test.Wire/Echo",
                                                      message: APIKeysV1.EchoRequest(statusCode: 7, statusMessage: "nope").serializedBytes())))
            + FrameCodec.encode(.request(RequestFrame(callID: 2, method: "/test.Wire/Echo", message: [0xFF, 0xFF])))
            + FrameCodec.encode(.request(RequestFrame(callID: 3, method: "/test.Wire/Echo",
                                                      message: APIKeysV1.EchoRequest(statusMessage: "boom").serializedBytes())))
            + FrameCodec.encode(.request(RequestFrame(callID: 4, method: "/test.Wire/Nope"))))
        let responses = try Self.written(channel).compactMap { frame -> ResponseFrame? in
            if case .response(let r) = frame { return r } else { return nil }
        }
        #expect(responses.map(\.callID) == [1, 2, 3, 4])
        #expect(responses.map(\.code) == [.permissionDenied, .invalidArgument, .internal, .unimplemented])
        #expect(responses[0].statusMessage == "nope")
        #expect(!responses[2].statusMessage.contains("Boom"))
        _ = try? channel.finish()
    }

    @Test("a response larger than max_frame_size is not sent; the call fails and the connection stays usable")
    func responseOverMaxFrameSize() throws {
        // PROTOCOL.md §2: a frame's length must not exceed max_frame_size (1024 here, announced
        // in the settings); a client enforcing it would drop the whole connection.
        let channel = try Self.makeChannel()
        try Self.send(channel, Preface.bytes + FrameCodec.encode(.request(RequestFrame(
            callID: 1, method: "/test.Wire/Echo", message: APIKeysV1.EchoRequest(responseSize: 2000).serializedBytes()))))
        var all = ByteBuffer()
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&buffer) }
        var bodies: [Int] = []
        while let length = all.readInteger(as: UInt32.self) {
            bodies.append(Int(length))
            all.moveReaderIndex(forwardBy: min(Int(length), all.readableBytes))
        }
        #expect(bodies.count == 2, "settings and the answer to call 1")
        #expect(bodies.allSatisfy { $0 <= 1024 }, "frame bodies written: \(bodies)")

        try Self.send(channel, FrameCodec.encode(.request(RequestFrame(callID: 2, method: "/apikeys.v1.Health/Check"))))
        let frames = try Self.written(channel)
        #expect(frames.last == .response(ResponseFrame(callID: 2, message: APIKeysV1.HealthCheckResponse(status: .serving, version: "test").serializedBytes())))
        #expect(channel.isActive)
        _ = try? channel.finish()
    }

    @Test("a client ping is answered with a pong")
    func ping() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Preface.bytes + FrameCodec.encode(.ping(77)))
        #expect(try Self.written(channel) == [Self.settings, .pong(77)])
        _ = try? channel.finish()
    }

    @Test("a bad preface gets a GoAway protocolError and the channel closes")
    func badPreface() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Array("GET / HTTP/1.1\r\n".utf8))
        channel.embeddedEventLoop.run()
        let frames = try Self.written(channel)
        #expect(frames.count == 1)
        #expect(Self.goAwayReason(frames) == .protocolError)
        #expect(!channel.isActive)
    }

    @Test("a bad preface byte is refused before 8 bytes arrive")
    func badPrefaceEarly() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Array("APX".utf8))
        channel.embeddedEventLoop.run()
        #expect(Self.goAwayReason(try Self.written(channel)) == .protocolError)
        #expect(!channel.isActive)
    }

    @Test("a wrong version gets GoAway unsupportedVersion and the channel closes")
    func wrongVersion() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Array("APIKEYS".utf8) + [2])
        channel.embeddedEventLoop.run()
        #expect(Self.goAwayReason(try Self.written(channel)) == .unsupportedVersion)
        #expect(!channel.isActive)
    }

    @Test("an oversized length prefix gets GoAway frameTooLarge, with no body sent, and the channel closes")
    func oversize() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Preface.bytes + [0xFF, 0xFF, 0xFF, 0xFF])
        channel.embeddedEventLoop.run()
        let frames = try Self.written(channel)
        #expect(frames.first == Self.settings)
        #expect(Self.goAwayReason(frames) == .frameTooLarge)
        #expect(!channel.isActive)
    }

    @Test("a body that is not a Frame gets GoAway protocolError with the last call ID")
    func garbageFrame() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Preface.bytes + FrameCodec.encode(.request(RequestFrame(callID: 4, method: "/apikeys.v1.Health/Check")))
            + Wire.framed([0xFF, 0xFF]))
        channel.embeddedEventLoop.run()
        let frames = try Self.written(channel)
        guard case .goAway(let goAway)? = frames.last else {
            Issue.record("no GoAway in \(frames)")
            return
        }
        #expect(goAway.reason == .protocolError)
        #expect(goAway.lastCallID == 4)
        #expect(!channel.isActive)
    }

    @Test("a repeated call ID gets GoAway protocolError and the channel closes")
    func repeatedCallID() throws {
        let channel = try Self.makeChannel()
        let request = FrameCodec.encode(.request(RequestFrame(callID: 1, method: "/apikeys.v1.Health/Check")))
        try Self.send(channel, Preface.bytes + request + request)
        channel.embeddedEventLoop.run()
        #expect(Self.goAwayReason(try Self.written(channel)) == .protocolError)
        #expect(!channel.isActive)
    }

    @Test("no preface within the handshake timeout gets GoAway handshakeTimeout and the channel closes")
    func handshakeTimeout() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Array("APIK".utf8))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(try Self.written(channel) == [])
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(Self.goAwayReason(try Self.written(channel)) == .handshakeTimeout)
        #expect(!channel.isActive)
    }

    @Test("shutdown with no call in flight sends GoAway noError and closes")
    func shutdownIdle() throws {
        let channel = try Self.makeChannel()
        try Self.send(channel, Preface.bytes + FrameCodec.encode(.request(RequestFrame(callID: 3, method: "/apikeys.v1.Health/Check"))))
        _ = try Self.written(channel)
        channel.pipeline.fireUserInboundEventTriggered(ServerConnectionHandler.ShutdownEvent())
        channel.embeddedEventLoop.run()
        #expect(try Self.written(channel) == [.goAway(GoAwayFrame(lastCallID: 3, reason: .noError, message: "the server is shutting down"))])
        #expect(!channel.isActive)
    }

    /// `router` and `/test.Wire/Wait`: an async echo that answers once `gate` opens.
    static func withWait(_ router: RPCRouter, gate: Gate) -> RPCRouter {
        var router = router
        router.register("/test.Wire/Wait") { (request: APIKeysV1.EchoRequest, _: ServerCall) async throws -> APIKeysV1.EchoResponse in
            await gate.wait()
            return APIKeysV1.EchoResponse(payload: request.payload)
        }
        return router
    }

    /// A connected channel with the server's handlers, for async handlers; and a reader of
    /// the frames it writes (a write may carry several: one flush's answers share a buffer).
    static func makeAsyncChannel(router: RPCRouter) async throws -> (NIOAsyncTestingChannel, () async throws -> Frame) {
        let channel = NIOAsyncTestingChannel()
        let configuration = Self.configuration
        try await channel.testingEventLoop.executeInContext {
            try Self.addServerHandlers(to: channel.pipeline.syncOperations, router: router, configuration: configuration)
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7420)).get()
        let pending = NIOLockedValueBox<[Frame]>([])
        return (channel, {
            while pending.withLockedValue({ $0.isEmpty }) {
                let frames = try Wire.frames(in: try await channel.waitForOutboundWrite(as: ByteBuffer.self))
                pending.withLockedValue { $0 += frames }
            }
            return pending.withLockedValue { $0.removeFirst() }
        })
    }

    @Test("graceful shutdown with an async call in flight: GoAway, later calls UNAVAILABLE, the call answered, then close")
    func shutdownDraining() async throws {
        let gate = Gate()
        let (channel, next) = try await Self.makeAsyncChannel(router: Self.withWait(RPCRouter(), gate: gate))

        try await channel.writeInbound(ByteBuffer(bytes: Preface.bytes + FrameCodec.encode(.request(RequestFrame(
            callID: 1, method: "/test.Wire/Wait", message: APIKeysV1.EchoRequest(payload: [42]).serializedBytes())))))
        #expect(try await next() == Self.settings)

        channel.pipeline.fireUserInboundEventTriggered(ServerConnectionHandler.ShutdownEvent())
        #expect(try await next() == .goAway(GoAwayFrame(lastCallID: 1, reason: .noError, message: "the server is shutting down")))
        #expect(channel.isActive)

        try await channel.writeInbound(ByteBuffer(bytes: FrameCodec.encode(.request(RequestFrame(callID: 2, method: "/test.Wire/Wait")))))
        guard case .response(let rejected) = try await next() else {
            Issue.record("call 2 got no response")
            return
        }
        #expect(rejected.callID == 2)
        #expect(rejected.code == .unavailable)

        gate.open()
        #expect(try await next() == .response(ResponseFrame(callID: 1, message: APIKeysV1.EchoResponse(payload: [42]).serializedBytes())))
        try await channel.closeFuture.get()
        #expect(!channel.isActive)
    }
}

/// Issue 14, goal 3: the handler splits the byte stream into frames itself, the request's
/// message bytes reuse the last request's array and a synchronous answer is encoded into an
/// array the connection lends. None of that may change what a client gets.
@Suite("ServerConnectionHandler: its own frame decoding and reused arrays")
struct ServerConnectionHandlerReuseTests {
    typealias T = ServerConnectionHandlerTests

    /// The preface and three Echo calls of different payloads, some repeating metadata.
    static let transcript: [UInt8] = {
        var bytes = Preface.bytes
        for (id, payload) in [(UInt64(1), [UInt8](repeating: 7, count: 40)), (2, [1, 2, 3]), (3, [9])] {
            bytes += FrameCodec.encode(.request(RequestFrame(
                callID: id, method: "/test.Wire/Echo", metadata: ["n": id == 3 ? "3" : "1"],
                message: APIKeysV1.EchoRequest(payload: payload, echoMetadata: true).serializedBytes())))
        }
        return bytes
    }()

    @Test("every split point of a transcript, and one byte per read, gives the same answers")
    func everySplitPoint() throws {
        let whole = try T.makeChannel()
        try T.send(whole, Self.transcript)
        let expected = try T.written(whole)
        #expect(expected.count == 4)
        _ = try? whole.finish()
        for split in 1..<Self.transcript.count {
            let channel = try T.makeChannel()
            try T.send(channel, Array(Self.transcript[..<split]))
            try T.send(channel, Array(Self.transcript[split...]))
            #expect(try T.written(channel) == expected, "split at \(split)")
            _ = try? channel.finish()
        }
        let channel = try T.makeChannel()
        for byte in Self.transcript { try T.send(channel, [byte]) }
        #expect(try T.written(channel) == expected)
        _ = try? channel.finish()
    }

    @Test("a call completed across two reads is answered, then a bad frame after it gets GoAway and the call behind it no answer")
    func badFrameAfterPartialFrame() throws {
        let channel = try T.makeChannel()
        let first = FrameCodec.encode(.request(RequestFrame(callID: 5, method: "/apikeys.v1.Health/Check")))
        let later = FrameCodec.encode(.request(RequestFrame(callID: 7, method: "/apikeys.v1.Health/Check")))
        try T.send(channel, Preface.bytes + first.prefix(3))
        try T.send(channel, Array(first.dropFirst(3)) + Wire.framed([0xFF, 0xFF]) + later)
        channel.embeddedEventLoop.run()
        let frames = try T.written(channel)
        guard frames.count == 3, case .response(let answer) = frames[1], case .goAway(let goAway) = frames[2] else {
            Issue.record("expected settings, one answer, GoAway: \(frames)")
            return
        }
        #expect(answer.callID == 5)
        #expect(goAway.reason == .protocolError)
        #expect(goAway.lastCallID == 5)
    }

    @Test("an oversized length prefix sent one byte at a time gets GoAway frameTooLarge")
    func oversizedLengthByteByByte() throws {
        let channel = try T.makeChannel()
        try T.send(channel, Preface.bytes)
        // 2,000 bytes declared, against the test server's 1,024 (big-endian prefix).
        for byte in [UInt8(0), 0, 0x07, 0xD0] { try? T.send(channel, [byte]) }
        channel.embeddedEventLoop.run()
        #expect(T.goAwayReason(try T.written(channel)) == .frameTooLarge)
    }

    @Test("a call still running holds its own request bytes while later calls reuse the connection's arrays")
    func heldMessageKeepsItsBytes() async throws {
        let gate = Gate()
        let (channel, next) = try await T.makeAsyncChannel(router: T.withWait(T.router, gate: gate))
        // Same method for the sync calls and one message length throughout: each later
        // request would land in the same array if the waiting call's were not kept apart.
        var bytes = Preface.bytes + FrameCodec.encode(.request(RequestFrame(
            callID: 1, method: "/test.Wire/Wait", message: APIKeysV1.EchoRequest(payload: [42, 42]).serializedBytes())))
        for id in UInt64(2)...4 {
            bytes += FrameCodec.encode(.request(RequestFrame(
                callID: id, method: "/test.Wire/Echo", message: APIKeysV1.EchoRequest(payload: [UInt8(id), UInt8(id)]).serializedBytes())))
        }
        try await channel.writeInbound(ByteBuffer(bytes: bytes))
        #expect(try await next() == T.settings)
        var answers: [UInt64: [UInt8]] = [:]
        for _ in 0..<3 {
            guard case .response(let response) = try await next() else { Issue.record("not a response"); return }
            answers[response.callID] = try APIKeysV1.EchoResponse(serializedBytes: response.message).payload
        }
        #expect(answers == [2: [2, 2], 3: [3, 3], 4: [4, 4]])
        gate.open()
        #expect(try await next() == .response(ResponseFrame(callID: 1, message: APIKeysV1.EchoResponse(payload: [42, 42]).serializedBytes())))
        _ = try? await channel.finish()
    }
}
