@testable import APIKeysWire
import NIOCore
import Testing

@Suite("FrameCodec and the C frame codec")
struct FrameCodecTests {
    static let maxFrameSize = 4 * 1024 * 1024

    static func metadata(_ count: Int) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (0..<count).map { ("key-\($0)", "value \($0) ✓") })
    }

    static let everyKind: [Frame] = [
        .request(RequestFrame(callID: 1, method: "/apikeys.v1.Health/Check")),
        .request(RequestFrame(callID: 7, method: "/apikeys.v1.Keys/Generate",
                              metadata: ["authorization": "Bearer abc", "x-tenant-id": "t1"],
                              timeoutMicros: 1_500_000, message: [0x0A, 0x03, 0x61, 0x62, 0x63])),
        .request(RequestFrame(callID: UInt64.max, method: "/a.B/C", metadata: metadata(16))),
        .request(RequestFrame(callID: 2, method: "/a.B/C", metadata: metadata(17))),
        .request(RequestFrame(callID: 3, method: "/a.B/C", metadata: metadata(300), message: Array(0...255))),
        .response(ResponseFrame(callID: 1, message: [1, 2, 3])),
        .response(ResponseFrame(callID: 9, code: .permissionDenied, statusMessage: "no licence — «R17»",
                                details: APIKeysV1.ErrorDetails(rule: "R17", reason: "no_license").serializedBytes())),
        .response(ResponseFrame(callID: 10, code: .unauthenticated, statusMessage: "bad key")),
        .response(ResponseFrame(callID: 11, code: StatusCode(rawValue: 99), statusMessage: "a code gRPC does not have")),
        .cancel(callID: 42),
        .cancel(callID: UInt64.max),
        .ping(0),
        .ping(0xDEAD_BEEF_0BAD_CAFE),
        .pong(UInt64.max),
        .goAway(GoAwayFrame(lastCallID: 17, reason: .noError, message: "the server is shutting down")),
        .goAway(GoAwayFrame(lastCallID: 0, reason: .tooManyConnections, message: "full")),
        .settings(ServerSettings(maxFrameSize: 4 << 20, maxConcurrentCalls: 100, idleTimeoutMillis: 300_000,
                                 keepaliveIntervalMillis: 60_000, server: "apikeysd")),
    ]

    @Test("every frame kind survives encode and decode", arguments: everyKind)
    func roundTrip(frame: Frame) throws {
        #expect(try Wire.roundTrip(frame) == frame)
    }

    @Test("every GoAway reason survives encode and decode")
    func goAwayReasons() throws {
        for raw in UInt32(0)...7 {
            let frame = Frame.goAway(GoAwayFrame(lastCallID: UInt64(raw), reason: .init(rawValue: raw)!, message: "r\(raw)"))
            #expect(try Wire.roundTrip(frame) == frame)
        }
    }

    static let empties: [Frame] = [
        .request(RequestFrame(callID: 1, method: "")),
        .request(RequestFrame(callID: 1, method: "", metadata: ["": ""])),
        .request(RequestFrame(callID: 1, method: "/a.B/C", metadata: ["k": ""], message: [])),
        .response(ResponseFrame(callID: 0)),
        .response(ResponseFrame(callID: 5, code: .internal, statusMessage: "", details: [], message: [])),
        .cancel(callID: 0),
        .goAway(GoAwayFrame(lastCallID: 0, reason: .noError, message: "")),
        .settings(ServerSettings(protocolVersion: 0, maxFrameSize: 0, maxConcurrentCalls: 0,
                                 idleTimeoutMillis: 0, keepaliveIntervalMillis: 0, server: "")),
    ]

    @Test("empty strings, empty payloads and zero values survive", arguments: empties)
    func emptyValues(frame: Frame) throws {
        #expect(try Wire.roundTrip(frame) == frame)
    }

    @Test("the all-default ping is a 2-byte body")
    func smallestFrames() {
        // Frame{ping{}}: field 4, length 0.
        #expect(FrameCodec.encode(.ping(0)) == [0, 0, 0, 2, 0x22, 0x00])
        #expect(FrameCodec.encode(.cancel(callID: 0)) == [0, 0, 0, 2, 0x1A, 0x00])
    }

    @Test("the hex example of PROTOCOL.md §8 is what FrameCodec writes")
    func protocolDocumentExample() throws {
        let documented = Wire.bytes("""
            41 50 49 4B 45 59 53 01
            00 00 00 1E
            0A 1C 08 01 12 18 2F 61 70 69 6B 65 79 73
            2E 76 31 2E 48 65 61 6C 74 68 2F 43 68 65
            63 6B
            """)
        let produced = Preface.bytes + FrameCodec.encode(.request(RequestFrame(callID: 1, method: "/apikeys.v1.Health/Check")))
        #expect(Wire.hex(produced) == Wire.hex(documented))

        let events = try Wire.decodeAll(documented, expectPreface: true)
        #expect(events == [.preface, .frame(.request(RequestFrame(callID: 1, method: "/apikeys.v1.Health/Check")))])
    }

    @Test("a frame body of exactly the maximum (4 MiB) is accepted")
    func fourMiBFrame() throws {
        // Frame{request{call_id 1 (2 bytes), message (1 + 4-byte length + n)}} in 1 + 4-byte length.
        let payloadSize = Self.maxFrameSize - 12
        let payload = (0..<payloadSize).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let frame = Frame.request(RequestFrame(callID: 1, method: "", message: payload))
        let encoded = FrameCodec.encode(frame)
        try #require(encoded.count == FrameCodec.lengthPrefixSize + Self.maxFrameSize)
        #expect(try Wire.decodeAll(encoded, maxFrameSize: Self.maxFrameSize) == [.frame(frame)])
    }

    @Test("one byte over the maximum is refused from the length prefix")
    func fourMiBPlusOne() throws {
        let frame = Frame.response(ResponseFrame(callID: 1, message: [UInt8](repeating: 7, count: Self.maxFrameSize)))
        let encoded = FrameCodec.encode(frame)
        #expect(encoded.count > Self.maxFrameSize + FrameCodec.lengthPrefixSize)
        #expect(throws: WireError(code: .frameTooLarge, message: "")) {
            try Wire.decodeAll(Array(encoded.prefix(FrameCodec.lengthPrefixSize)), maxFrameSize: Self.maxFrameSize)
        }
    }

    @Test("length prefixes above the maximum fail from the 4 prefix bytes alone",
          arguments: [UInt32(4 * 1024 * 1024 + 1), 0x0100_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF])
    func lengthAboveMaximum(length: UInt32) throws {
        let prefix = [UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16),
                      UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
        #expect(throws: WireError(code: .frameTooLarge, message: "")) {
            try Wire.decodeAll(prefix, maxFrameSize: Self.maxFrameSize)
        }
        let error = #expect(throws: WireError.self) {
            try prefix.withUnsafeBytes { bytes throws(WireError) in
                try FrameCodec.declaredLength(bytes, maxFrameSize: Self.maxFrameSize)
            }
        }
        #expect(error?.code == .frameTooLarge)
        #expect(error?.message.contains("\(length)") == true)
    }

    @Test("a length prefix at the maximum waits for the body")
    func lengthAtMaximum() throws {
        let prefix: [UInt8] = [0x00, 0x40, 0x00, 0x00]
        #expect(try Wire.decodeAll(prefix, maxFrameSize: Self.maxFrameSize) == [])
        let length = try prefix.withUnsafeBytes { bytes throws(WireError) in
            try FrameCodec.declaredLength(bytes, maxFrameSize: Self.maxFrameSize)
        }
        #expect(length == Self.maxFrameSize)
    }

    @Test("fewer than 4 prefix bytes say nothing yet")
    func partialPrefix() throws {
        for count in 0..<4 {
            let bytes = [UInt8](repeating: 0xFF, count: count)
            let length = try bytes.withUnsafeBytes { bytes throws(WireError) in
                try FrameCodec.declaredLength(bytes, maxFrameSize: 16)
            }
            #expect(length == nil)
        }
    }

    @Test("a small maximum frame size is honoured")
    func smallMaximum() throws {
        let frame = Frame.ping(1)
        let encoded = FrameCodec.encode(frame)  // 4-byte body
        #expect(try Wire.decodeAll(encoded, maxFrameSize: 4) == [.frame(frame)])
        #expect(throws: WireError(code: .frameTooLarge, message: "")) {
            try Wire.decodeAll(encoded, maxFrameSize: 3)
        }
    }

    static let garbageBodies: [[UInt8]] = [
        [0xFF],
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],  // varint too long
        [0x0A, 0x05, 0x08],  // request whose length runs past the body
        [0x0A, 0x02, 0x12, 0x05],  // method whose length runs past the request
        [0x07],  // wire type 7 does not exist
        [0x00, 0x00],  // field number 0
        Array("GET / HTTP/1.1\r\n\r\n".utf8),
    ]

    @Test("a body that is not a Frame is malformedFrame", arguments: garbageBodies)
    func garbageBody(body: [UInt8]) {
        #expect(throws: WireError(code: .malformedFrame, message: "")) { try decodeBody(body) }
        #expect(throws: WireError(code: .malformedFrame, message: "")) { try Wire.decodeAll(Wire.framed(body)) }
    }

    @Test("a valid Frame with no kind is malformedFrame",
          arguments: [[], [0x78, 0x05], Wire.field(15, [1, 2, 3]), [0x40, 0x01]] as [[UInt8]])
    func noKind(body: [UInt8]) {
        let error = #expect(throws: WireError.self) { try decodeBody(body) }
        #expect(error?.code == .malformedFrame)
        #expect(error?.message.contains("no kind") == true)
        #expect(throws: WireError(code: .malformedFrame, message: "")) { try Wire.decodeAll(Wire.framed(body)) }
    }

    @Test("unknown fields around a known kind are ignored")
    func unknownFieldsIgnored() throws {
        // Frame{ping{data 5, field 9 = "x"}, field 15 = 1}
        let body: [UInt8] = Wire.field(4, [0x08, 0x05] + Wire.field(9, [0x78])) + [0x78, 0x01]
        #expect(try decodeBody(body) == .ping(5))
    }

    @Test("a request with ~1M tiny metadata entries is refused by the allocation budget")
    func millionMetadataEntries() throws {
        // Each empty map entry is 2 bytes on the wire but ~48 bytes once unpacked.
        let request = Wire.repeated([0x1A, 0x00], count: 1_000_000)
        let body = Wire.field(1, [0x08, 0x01] + request)
        try #require(body.count <= Self.maxFrameSize)
        let error = #expect(throws: WireError.self) { try decodeBody(body) }
        #expect(error?.code == .malformedFrame)
        #expect(error?.message.contains("memory") == true)
        #expect(throws: WireError(code: .malformedFrame, message: "")) {
            try Wire.decodeAll(Wire.framed(body), maxFrameSize: Self.maxFrameSize)
        }
    }

    @Test("a 4 MiB request of entries with nested unknown fields is refused by the allocation budget")
    func nestedUnknownFields() throws {
        // Each entry carries one empty unknown length-delimited field (field 15).
        let entry = Wire.field(3, Wire.field(15, []))
        let request = Wire.repeated(entry, count: 1_000_000)
        let body = Wire.field(1, request)
        try #require(body.count <= Self.maxFrameSize)
        let error = #expect(throws: WireError.self) { try decodeBody(body) }
        #expect(error?.code == .malformedFrame)
        #expect(error?.message.contains("memory") == true)
    }

    @Test("a request with many real metadata entries stays under the budget")
    func manyRealEntries() throws {
        let frame = Frame.request(RequestFrame(callID: 1, method: "/a.B/C", metadata: Self.metadata(10_000)))
        #expect(try Wire.roundTrip(frame) == frame)
    }

    @Test("strings with NUL bytes are cut at the NUL, not a crash")
    func nulInStrings() throws {
        let frame = Frame.request(RequestFrame(callID: 1, method: "/a.B/C\0tail", metadata: ["k\0x": "v\0y"]))
        #expect(try Wire.roundTrip(frame) == .request(RequestFrame(callID: 1, method: "/a.B/C", metadata: ["k": "v"])))
        let goAway = Frame.goAway(GoAwayFrame(lastCallID: 1, reason: .protocolError, message: "\0"))
        #expect(try Wire.roundTrip(goAway) == .goAway(GoAwayFrame(lastCallID: 1, reason: .protocolError, message: "")))
    }

    @Test("an unknown GoAway reason reads as protocolError")
    func unknownGoAwayReason() throws {
        // Frame{goaway{last_call_id 3, reason 99}}
        let body = Wire.field(6, [0x08, 0x03, 0x10, 99])
        #expect(try decodeBody(body) == .goAway(GoAwayFrame(lastCallID: 3, reason: .protocolError, message: "")))
    }

    @Test("a response without a status reads as OK with no message")
    func responseWithoutStatus() throws {
        let body = Wire.field(2, [0x08, 0x04] + Wire.field(3, [9, 9]))
        #expect(try decodeBody(body) == .response(ResponseFrame(callID: 4, message: [9, 9])))
    }

    @Test("encode(into:) appends after what the buffer holds")
    func encodeAppends() throws {
        var buffer = ByteBuffer(bytes: Preface.bytes)
        FrameCodec.encode(.ping(1), into: &buffer)
        FrameCodec.encode(.pong(2), into: &buffer)
        #expect(try Wire.decodeAll(Array(buffer.readableBytesView), expectPreface: true) == [.preface, .frame(.ping(1)), .frame(.pong(2))])
    }
}
