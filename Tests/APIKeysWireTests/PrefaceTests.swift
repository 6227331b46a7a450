@testable import APIKeysWire
import NIOCore
import NIOEmbedded
import Testing

@Suite("Preface")
struct PrefaceTests {
    @Test("the preface is APIKEYS and version 1")
    func bytes() {
        #expect(Preface.bytes == [0x41, 0x50, 0x49, 0x4B, 0x45, 0x59, 0x53, 0x01])
        #expect(Preface.size == 8)
        #expect(Preface.version == 1)
    }

    @Test("a correct but incomplete preface waits for more bytes")
    func incomplete() throws {
        for count in 0..<Preface.size {
            #expect(try Wire.decodeAll(Array(Preface.bytes.prefix(count)), expectPreface: true) == [])
        }
    }

    @Test("wrong magic fails at the first wrong byte, with fewer than 8 bytes")
    func wrongMagicEarly() {
        for position in 0..<7 {
            var bytes = Array(Preface.bytes.prefix(position + 1))
            bytes[position] ^= 0x20  // e.g. "apikeys"
            #expect(throws: WireError(code: .badPreface, message: ""), "wrong byte at \(position)") {
                try Wire.decodeAll(bytes, expectPreface: true)
            }
        }
    }

    @Test("a TLS ClientHello or HTTP request is refused at its first byte")
    func otherProtocols() {
        #expect(throws: WireError(code: .badPreface, message: "")) { try Wire.decodeAll([0x16], expectPreface: true) }
        #expect(throws: WireError(code: .badPreface, message: "")) { try Wire.decodeAll(Array("GET".utf8), expectPreface: true) }
        #expect(throws: WireError(code: .badPreface, message: "")) {
            try Wire.decodeAll(FrameCodec.encode(.ping(1)), expectPreface: true)
        }
    }

    @Test("wrong magic fails in the pipeline as soon as the bad byte arrives")
    func wrongMagicInPipeline() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(expectPreface: true, maxFrameSize: 1024)))
        try channel.writeInbound(ByteBuffer(bytes: Array("API".utf8)))
        #expect(throws: WireError(code: .badPreface, message: "")) {
            try channel.writeInbound(ByteBuffer(bytes: Array("X".utf8)))
        }
        _ = try? channel.finish()
    }

    @Test("a wrong version byte is unsupportedVersion", arguments: [UInt8(0), 2, 0x7F, 0xFF])
    func wrongVersion(version: UInt8) {
        let error = #expect(throws: WireError.self) {
            try Wire.decodeAll(Array("APIKEYS".utf8) + [version], expectPreface: true)
        }
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.message.contains("\(version)") == true)
    }

    @Test("the preface and the first frame may arrive in one read")
    func prefaceAndFrameTogether() throws {
        #expect(try Wire.decodeAll(Preface.bytes + FrameCodec.encode(.ping(4)), expectPreface: true) == [.preface, .frame(.ping(4))])
    }
}
