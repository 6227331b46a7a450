// libFuzzer entry for the Swift decoding path of APIKeysWire: the server's FrameDecoder
// (behind a ByteToMessageHandler here; the server's ServerConnectionHandler calls the same
// decoder itself, its splitting tested at every cut point in ServerConnectionHandlerReuseTests),
// FrameCodec.frames(in:), FrameCodec.decode(body:), and
// ProtoMessage.init(serializedBytes:) for the request types the server decodes most.
//
// Input: byte 0 picks the mode (modulo the count of modes), the rest is its bytes. Every
// decoded value must survive an encode/decode round trip unchanged.
import APIKeysWire
import NIOCore
import NIOEmbedded

enum Mode: UInt8, CaseIterable {
    /// A client's byte stream (preface, then frames) through the server's FrameDecoder.
    case serverStream
    /// The same, arriving in two reads; byte 1 says where to cut.
    case serverStreamSplit
    /// Frames without a preface, through FrameCodec.frames(in:).
    case frames
    /// One frame body, through FrameCodec.decode(body:).
    case body
    case verifyRequest, generateKeyRequest, listKeysRequest, updateSettingsRequest, echoRequest
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: start, count: count)
    let mode = Mode.allCases[Int(input[0]) % Mode.allCases.count]
    let bytes = Array(input.dropFirst())
    switch mode {
    case .serverStream: serverStream(bytes, cut: nil)
    case .serverStreamSplit: serverStream(Array(bytes.dropFirst()), cut: bytes.first.map(Int.init))
    case .frames: frames(bytes)
    case .body: body(bytes)
    case .verifyRequest: message(APIKeysV1.VerifyRequest.self, bytes)
    case .generateKeyRequest: message(APIKeysV1.GenerateKeyRequest.self, bytes)
    case .listKeysRequest: message(APIKeysV1.ListKeysRequest.self, bytes)
    case .updateSettingsRequest: message(APIKeysV1.UpdateSettingsRequest.self, bytes)
    case .echoRequest: message(APIKeysV1.EchoRequest.self, bytes)
    }
    return 0
}

/// The server's maximum (docs/PROTOCOL.md §6).
let maxFrameSize = 4 * 1024 * 1024

func serverStream(_ bytes: [UInt8], cut: Int?) {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(
        FrameDecoder(expectPreface: true, maxFrameSize: maxFrameSize)))
    let pieces: [ArraySlice<UInt8>]
    if let cut, !bytes.isEmpty {
        let at = cut % (bytes.count + 1)
        pieces = [bytes[..<at], bytes[at...]]
    } else {
        pieces = [bytes[...]]
    }
    var sawPreface = false
    do {
        for piece in pieces {
            try channel.writeInbound(channel.allocator.buffer(bytes: piece))
            while let event = try channel.readInbound(as: FrameDecoder.Event.self) {
                switch event {
                case .preface:
                    check(!sawPreface, "a second preface")
                    sawPreface = true
                case .frame(let frame):
                    check(sawPreface, "a frame before the preface")
                    roundTrip(frame)
                }
            }
        }
    } catch {
        // A protocol error: the server sends GoAway and closes.
    }
    _ = try? channel.finish()
}

func frames(_ bytes: [UInt8]) {
    guard let frames = try? FrameCodec.frames(in: bytes, maxFrameSize: maxFrameSize) else { return }
    frames.forEach(roundTrip)
    // Encoding them all and splitting again gives the same frames.
    let encoded = frames.flatMap { FrameCodec.encode($0) }
    check((try? FrameCodec.frames(in: encoded)) == frames, "frames(in:) of encoded frames differs")
}

func body(_ bytes: [UInt8]) {
    let frame = bytes.withUnsafeBytes { try? FrameCodec.decode(body: $0) }
    if let frame { roundTrip(frame) }
}

/// encode then decode gives the frame back; a request's message is decoded as each
/// request type, as the router would for its method.
func roundTrip(_ frame: Frame) {
    let encoded = FrameCodec.encode(frame)
    check(encoded.count >= FrameCodec.lengthPrefixSize, "encoded frame too short")
    let again = encoded.dropFirst(FrameCodec.lengthPrefixSize).withUnsafeBytes { try? FrameCodec.decode(body: $0) }
    check(again == frame, "frame round trip differs: \(frame) vs \(String(describing: again))")
    if case .request(let request) = frame {
        message(APIKeysV1.VerifyRequest.self, request.message)
        message(APIKeysV1.GenerateKeyRequest.self, request.message)
        message(APIKeysV1.ListKeysRequest.self, request.message)
        message(APIKeysV1.UpdateSettingsRequest.self, request.message)
        message(APIKeysV1.EchoRequest.self, request.message)
    }
}

func message<M: ProtoMessage>(_: M.Type, _ bytes: [UInt8]) {
    guard let decoded = try? M(serializedBytes: bytes) else { return }
    let encoded = decoded.serializedBytes()
    let again = try? M(serializedBytes: encoded)
    check(again == decoded, "\(M.protoName) round trip differs: \(decoded) vs \(String(describing: again))")
    check(again?.serializedBytes() == encoded, "\(M.protoName) encoding is not stable")
}

func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant failed: \(message())") }
}
