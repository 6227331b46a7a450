@testable import APIKeysWire
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

/// Runs `FrameDecoder` for one connection after another: after a GoAway (the last
/// frame of a connection's transcript) it starts again with a fresh server-side
/// decoder, so `ByteToMessageDecoderVerifier` can replay whole server transcripts.
struct ServerTranscriptDecoder: ByteToMessageDecoder {
    typealias InboundOut = FrameDecoder.Event
    let maxFrameSize: Int
    var inner: FrameDecoder

    init(maxFrameSize: Int = 4 * 1024 * 1024) {
        self.maxFrameSize = maxFrameSize
        self.inner = FrameDecoder(expectPreface: true, maxFrameSize: maxFrameSize)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let event = try inner.next(&buffer) else { return .needMoreData }
        if case .frame(.goAway) = event {
            inner = FrameDecoder(expectPreface: true, maxFrameSize: maxFrameSize)
        }
        context.fireChannelRead(Self.wrapInboundOut(event))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

@Suite("FrameDecoder")
struct FrameDecoderTests {
    static let request = Frame.request(RequestFrame(
        callID: 1, method: "/apikeys.v1.Keys/List", metadata: ["authorization": "Bearer s3cr3t", "x-user-id": "u"],
        timeoutMicros: 250_000, message: [0x0A, 0x01, 0x78]))
    static let bigRequest = Frame.request(RequestFrame(callID: 2, method: "/a.B/C", message: (0..<3_000).map { UInt8(truncatingIfNeeded: $0) }))
    static let goAway = Frame.goAway(GoAwayFrame(lastCallID: 2, reason: .noError, message: "bye"))

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    @Test("server side: preface then frames, in every fragmentation (ByteToMessageDecoderVerifier)")
    func serverSideVerifier() throws {
        // One pair per connection transcript; the verifier shuffles and replays them.
        let connectionA = Preface.bytes + FrameCodec.encode(Self.request) + FrameCodec.encode(.ping(9))
            + FrameCodec.encode(.cancel(callID: 1)) + FrameCodec.encode(Self.goAway)
        let connectionB = Preface.bytes + FrameCodec.encode(Self.bigRequest) + FrameCodec.encode(Self.goAway)
        let connectionC = Preface.bytes + FrameCodec.encode(Self.goAway)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (Self.buffer(connectionA), [.preface, .frame(Self.request), .frame(.ping(9)), .frame(.cancel(callID: 1)), .frame(Self.goAway)]),
                (Self.buffer(connectionB), [.preface, .frame(Self.bigRequest), .frame(Self.goAway)]),
                (Self.buffer(connectionC), [.preface, .frame(Self.goAway)]),
            ],
            decoderFactory: { ServerTranscriptDecoder() })
    }

    @Test("client side: frames only, in every fragmentation (ByteToMessageDecoderVerifier)")
    func clientSideVerifier() throws {
        let frames: [Frame] = [
            .settings(ServerSettings(maxFrameSize: 4 << 20, maxConcurrentCalls: 100, idleTimeoutMillis: 1,
                                     keepaliveIntervalMillis: 2, server: "apikeysd")),
            .response(ResponseFrame(callID: 1, message: [1, 2, 3])),
            .response(ResponseFrame(callID: 2, code: .notFound, statusMessage: "no such key",
                                    details: APIKeysV1.ErrorDetails(rule: "R5", reason: "not_found").serializedBytes())),
            .response(ResponseFrame(callID: 3, message: [UInt8](repeating: 0xAB, count: 3_000))),
            .ping(1), .pong(2), .goAway(GoAwayFrame(lastCallID: 3, reason: .idleTimeout, message: "idle")),
        ]
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: frames.map { (Self.buffer(FrameCodec.encode($0)), [FrameDecoder.Event.frame($0)]) },
            decoderFactory: { FrameDecoder(expectPreface: false, maxFrameSize: 4 * 1024 * 1024) })
    }

    @Test("server side through the real decoder: every split point of a transcript gives the same events")
    func everySplitPoint() throws {
        let transcript = Preface.bytes + FrameCodec.encode(Self.request) + FrameCodec.encode(.ping(3))
        let expected: [FrameDecoder.Event] = [.preface, .frame(Self.request), .frame(.ping(3))]
        for split in 0...transcript.count {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(expectPreface: true, maxFrameSize: 1024)))
            try channel.writeInbound(Self.buffer(Array(transcript[..<split])))
            try channel.writeInbound(Self.buffer(Array(transcript[split...])))
            var events: [FrameDecoder.Event] = []
            while let event = try channel.readInbound(as: FrameDecoder.Event.self) { events.append(event) }
            #expect(events == expected, "split at \(split)")
            #expect(try channel.finish().isClean)
        }
    }

    @Test("a client-side decoder reads a preface as a (too large) length prefix")
    func clientSideHasNoPreface() {
        // "APIK" = 0x4150494B bytes.
        #expect(throws: WireError(code: .frameTooLarge, message: "")) {
            try Wire.decodeAll(Preface.bytes, expectPreface: false)
        }
    }

    @Test("an oversized length prefix fails in the pipeline before any body byte")
    func oversizeInPipeline() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(expectPreface: true, maxFrameSize: 1024)))
        try channel.writeInbound(Self.buffer(Preface.bytes))
        #expect(try channel.readInbound(as: FrameDecoder.Event.self) == .preface)
        #expect(throws: WireError(code: .frameTooLarge, message: "")) {
            try channel.writeInbound(Self.buffer([0x00, 0x00, 0x04, 0x01]))
        }
        _ = try? channel.finish()
    }

    @Test("bytes after a frame stay buffered until their frame is complete")
    func partialFrameWaits() throws {
        let encoded = FrameCodec.encode(Self.request)
        var decoder = FrameDecoder(expectPreface: false, maxFrameSize: 1024)
        var buffer = Self.buffer(encoded + encoded.prefix(5))
        #expect(try decoder.next(&buffer) == .frame(Self.request))
        #expect(try decoder.next(&buffer) == nil)
        #expect(buffer.readableBytes == 5)
        buffer.writeBytes(encoded.dropFirst(5))
        #expect(try decoder.next(&buffer) == .frame(Self.request))
        #expect(buffer.readableBytes == 0)
    }

    @Test("a frame cut off by EOF is dropped; complete frames before it are delivered")
    func truncatedAtEOF() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(expectPreface: false, maxFrameSize: 1024)))
        let bytes = FrameCodec.encode(.ping(1)) + FrameCodec.encode(.ping(2)).dropLast()
        try channel.writeInbound(Self.buffer(bytes))
        #expect(try channel.readInbound(as: FrameDecoder.Event.self) == .frame(.ping(1)))
        _ = try? channel.finish()
        #expect(try channel.readInbound(as: FrameDecoder.Event.self) == nil)
    }
}
