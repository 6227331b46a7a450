internal import CAPIKeysCodec
public import NIOCore

/// Frames to and from bytes, through the C codec.
public enum FrameCodec {
    public static let lengthPrefixSize = Int(AKC_LENGTH_PREFIX_SIZE)

    /// The length a frame's prefix declares, or nil until 4 bytes are there.
    /// Throws when the length exceeds `maxFrameSize`, before any of the body is buffered.
    static func declaredLength(_ bytes: UnsafeRawBufferPointer, maxFrameSize: Int) throws(WireError) -> Int? {
        var length: UInt32 = 0
        let limit = UInt32(clamping: maxFrameSize)
        switch akc_frame_length(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, limit, &length) {
        case AKC_NEED_MORE:
            return nil
        case AKC_TOO_LARGE:
            throw WireError(code: .frameTooLarge, message: "a frame of \(length) bytes exceeds the maximum of \(maxFrameSize)")
        default:
            return Int(length)
        }
    }

    /// Decodes one frame body (the bytes after the length prefix).
    public static func decode(body: UnsafeRawBufferPointer) throws(WireError) -> Frame {
        var parts = RepeatedRequestParts()
        return try decode(body: body, reusing: &parts)
    }

    /// Decodes one frame body; a request whose method or metadata repeat the previous
    /// request's byte for byte gets the previous `String`s and dictionary instead of new ones.
    static func decode(body: UnsafeRawBufferPointer, reusing parts: inout RepeatedRequestParts) throws(WireError) -> Frame {
        var frame = akc_frame()
        let budget = allocationBudgetFloor + allocationBudgetFactor * body.count
        let status = akc_frame_decode(body.baseAddress?.assumingMemoryBound(to: UInt8.self), body.count, budget, &frame)
        guard status == AKC_OK else {
            switch status {
            case AKC_NO_KIND:
                throw WireError(code: .malformedFrame, message: "the frame envelope has no kind set")
            case AKC_BAD_STRING:
                throw WireError(code: .malformedFrame, message: "a string in the frame envelope is not valid UTF-8 or holds a NUL byte")
            case AKC_OVER_BUDGET:
                throw WireError(code: .malformedFrame, message: "the frame would need more memory to decode than its size allows")
            default:
                throw WireError(code: .malformedFrame, message: "\(body.count) bytes are not a valid frame envelope")
            }
        }
        defer { akc_frame_release(&frame) }
        return Frame(decoded: frame, reusing: &parts)
    }

    /// Appends the frame, length prefix included, to `buffer`.
    public static func encode(_ frame: Frame, into buffer: inout ByteBuffer) {
        frame.withCFrame { cFrame in
            let size = akc_frame_encoded_size(&cFrame)
            precondition(size > 0, "frame cannot be encoded")
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                akc_frame_encode(&cFrame, out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count)
            }
        }
    }

    /// The frame, length prefix included, in a buffer of exactly its size: a frame waiting
    /// to be written then holds no slack (a reused encoder buffer would give a 100-byte frame
    /// the capacity of the largest frame before it).
    static func encode(_ frame: Frame, allocator: ByteBufferAllocator) -> ByteBuffer {
        frame.withCFrame { cFrame in
            let size = akc_frame_encoded_size(&cFrame)
            precondition(size > 0, "frame cannot be encoded")
            var buffer = allocator.buffer(capacity: size)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                akc_frame_encode(&cFrame, out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count)
            }
            return buffer
        }
    }

    /// The bytes `encode` writes for this frame, length prefix included.
    public static func encodedSize(_ frame: Frame) -> Int {
        frame.withCFrame { akc_frame_encoded_size(&$0) }
    }

    /// The frame as bytes, length prefix included.
    public static func encode(_ frame: Frame) -> [UInt8] {
        var buffer = ByteBuffer()
        encode(frame, into: &buffer)
        return Array(buffer.readableBytesView)
    }
}

extension Frame {
    init(decoded f: akc_frame, reusing parts: inout RepeatedRequestParts) {
        switch f.kind {
        case AKC_FRAME_REQUEST:
            self = .request(RequestFrame(
                callID: f.call_id, method: parts.method(f.method), metadata: parts.metadata(f),
                timeoutMicros: f.timeout_micros, message: parts.message(f.message)))
        case AKC_FRAME_RESPONSE:
            self = .response(ResponseFrame(
                callID: f.call_id, code: StatusCode(rawValue: f.status_code),
                statusMessage: ProtoReader.string(f.status_message), details: ProtoReader.bytes(f.status_details),
                message: ProtoReader.bytes(f.message)))
        case AKC_FRAME_CANCEL:
            self = .cancel(callID: f.call_id)
        case AKC_FRAME_PING:
            self = .ping(f.ping_data)
        case AKC_FRAME_PONG:
            self = .pong(f.ping_data)
        case AKC_FRAME_GOAWAY:
            self = .goAway(GoAwayFrame(
                lastCallID: f.call_id, reason: GoAwayFrame.Reason(rawValue: f.goaway_reason) ?? .protocolError,
                message: ProtoReader.string(f.goaway_message)))
        default:
            self = .settings(ServerSettings(
                protocolVersion: f.protocol_version, maxFrameSize: f.max_frame_size,
                maxConcurrentCalls: f.max_concurrent_calls, idleTimeoutMillis: f.idle_timeout_millis,
                keepaliveIntervalMillis: f.keepalive_interval_millis, server: ProtoReader.string(f.server_name)))
        }
    }

    /// Lends the frame as a C struct whose pointers are valid inside `body` only.
    func withCFrame<R>(_ body: (inout akc_frame) -> R) -> R {
        var f = akc_frame()
        switch self {
        case .request(let r):
            f.kind = AKC_FRAME_REQUEST
            f.call_id = r.callID
            f.timeout_micros = r.timeoutMicros
            var strings = CStrings()
            let method = strings.add(r.method)
            let entries = r.metadata.map { (strings.add($0.key), strings.add($0.value)) }
            return strings.withPointers { resolve in
                f.method = resolve(method)
                let metadata = entries.flatMap { [resolve($0.0), resolve($0.1)] }
                return metadata.withUnsafeBufferPointer { metadataPointer in
                    f.metadata_count = entries.count
                    f.metadata = metadataPointer.baseAddress
                    return r.message.withUnsafeBufferPointer { message in
                        f.message = akc_bytes(data: message.baseAddress, length: message.count)
                        return body(&f)
                    }
                }
            }
        case .response(let r):
            f.kind = AKC_FRAME_RESPONSE
            f.call_id = r.callID
            f.status_code = r.code.rawValue
            var strings = CStrings()
            let statusMessage = strings.add(r.statusMessage)
            return strings.withPointers { resolve in
                f.status_message = resolve(statusMessage)
                return r.details.withUnsafeBufferPointer { details in
                    f.status_details = akc_bytes(data: details.baseAddress, length: details.count)
                    return r.message.withUnsafeBufferPointer { message in
                        f.message = akc_bytes(data: message.baseAddress, length: message.count)
                        return body(&f)
                    }
                }
            }
        case .cancel(let callID):
            f.kind = AKC_FRAME_CANCEL
            f.call_id = callID
            return body(&f)
        case .ping(let data):
            f.kind = AKC_FRAME_PING
            f.ping_data = data
            return body(&f)
        case .pong(let data):
            f.kind = AKC_FRAME_PONG
            f.ping_data = data
            return body(&f)
        case .goAway(let g):
            f.kind = AKC_FRAME_GOAWAY
            f.call_id = g.lastCallID
            f.goaway_reason = g.reason.rawValue
            var strings = CStrings()
            let message = strings.add(g.message)
            return strings.withPointers { resolve in
                f.goaway_message = resolve(message)
                return body(&f)
            }
        case .settings(let s):
            f.kind = AKC_FRAME_SETTINGS
            f.protocol_version = s.protocolVersion
            f.max_frame_size = s.maxFrameSize
            f.max_concurrent_calls = s.maxConcurrentCalls
            f.idle_timeout_millis = s.idleTimeoutMillis
            f.keepalive_interval_millis = s.keepaliveIntervalMillis
            var strings = CStrings()
            let server = strings.add(s.server)
            return strings.withPointers { resolve in
                f.server_name = resolve(server)
                return body(&f)
            }
        }
    }
}

/// NUL-terminated copies of several strings in one buffer, as protobuf-c wants them.
/// A NUL inside a string ends it early (protobuf-c could not encode it anyway).
struct CStrings {
    struct Span {
        let offset: Int
        let length: Int
    }

    private var storage: [UInt8] = []
    private static let emptyCString: StaticString = ""

    mutating func add(_ string: String) -> Span {
        // An empty string needs no copy (every successful answer's status message): with
        // only empty strings, no storage is allocated.
        if string.isEmpty { return Span(offset: -1, length: 0) }
        let offset = storage.count
        var length = 0
        for byte in string.utf8 {
            if byte == 0 { break }
            storage.append(byte)
            length += 1
        }
        storage.append(0)
        return Span(offset: offset, length: length)
    }

    func withPointers<R>(_ body: ((Span) -> akc_bytes) -> R) -> R {
        storage.withUnsafeBufferPointer { buffer in
            body { span in
                if span.offset < 0 { return akc_bytes(data: Self.emptyCString.utf8Start, length: 0) }
                return akc_bytes(data: buffer.baseAddress! + span.offset, length: span.length)
            }
        }
    }
}

extension FrameCodec {
    /// Every complete frame at the start of `bytes` (after a preface, if any); for tools
    /// and tests that read raw bytes from a socket.
    public static func frames(in bytes: [UInt8], maxFrameSize: Int = Int(UInt32.max)) throws(WireError) -> [Frame] {
        var decoder = FrameDecoder(expectPreface: false, maxFrameSize: maxFrameSize)
        var buffer = ByteBuffer(bytes: bytes)
        var frames: [Frame] = []
        while let event = try decoder.next(&buffer) {
            if case .frame(let frame) = event { frames.append(frame) }
        }
        return frames
    }
}
