import NIOCore

/// Hand-written protobuf for the two frames the load generator deals with, so the client
/// spends as little as possible per call (it shares nothing with the server's codec).
enum ProtoBytes {
    @inline(__always)
    static func varintLength(_ value: UInt64) -> Int {
        var v = value
        var n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    @inline(__always)
    static func writeVarint(_ value: UInt64, into buffer: inout ByteBuffer) {
        var v = value
        while v >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        buffer.writeInteger(UInt8(v))
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// A length-delimited field: tag, length, bytes.
    static func field(_ number: UInt64, _ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        appendVarint(number << 3 | 2, to: &out)
        appendVarint(UInt64(payload.count), to: &out)
        out += payload
        return out
    }

    /// Reads a varint at `i`; nil past the end.
    @inline(__always)
    static func readVarint(_ p: UnsafeRawBufferPointer, _ i: inout Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while i < p.count {
            let b = p[i]
            i += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    /// Skips a field of `wireType` at `i`; false when malformed.
    @inline(__always)
    static func skip(_ p: UnsafeRawBufferPointer, _ i: inout Int, wireType: UInt64) -> Bool {
        switch wireType {
        case 0: return readVarint(p, &i) != nil
        case 1: i += 8
        case 2:
            guard let n = readVarint(p, &i) else { return false }
            i += Int(n)
        case 5: i += 4
        default: return false
        }
        return i <= p.count
    }
}

/// `Frame{request{call_id, method, metadata, message: VerifyRequest{secret}}}` with its
/// length prefix, written straight into a buffer.
struct VerifyRequestEncoder {
    /// The method and metadata fields, the same for every call.
    let common: [UInt8]

    init(method: String, metadata: [(String, String)]) {
        var common = ProtoBytes.field(2, Array(method.utf8))
        for (key, value) in metadata {
            common += ProtoBytes.field(3, ProtoBytes.field(1, Array(key.utf8)) + ProtoBytes.field(2, Array(value.utf8)))
        }
        self.common = common
    }

    @inline(__always)
    func write(callID: UInt64, secret: [UInt8], into buffer: inout ByteBuffer) {
        let secretField = 1 + ProtoBytes.varintLength(UInt64(secret.count)) + secret.count  // VerifyRequest
        let messageField = 1 + ProtoBytes.varintLength(UInt64(secretField)) + secretField  // Request.message
        let inner = 1 + ProtoBytes.varintLength(callID) + common.count + messageField
        let body = 1 + ProtoBytes.varintLength(UInt64(inner)) + inner
        buffer.reserveCapacity(minimumWritableBytes: 4 + body)
        buffer.writeInteger(UInt32(body))
        buffer.writeInteger(UInt8(0x0A))  // Frame.request
        ProtoBytes.writeVarint(UInt64(inner), into: &buffer)
        buffer.writeInteger(UInt8(0x08))  // Request.call_id
        ProtoBytes.writeVarint(callID, into: &buffer)
        buffer.writeBytes(common)
        buffer.writeInteger(UInt8(0x2A))  // Request.message
        ProtoBytes.writeVarint(UInt64(secretField), into: &buffer)
        buffer.writeInteger(UInt8(0x0A))  // VerifyRequest.secret
        ProtoBytes.writeVarint(UInt64(secret.count), into: &buffer)
        buffer.writeBytes(secret)
    }
}

/// What the client needs of a frame from the server.
enum ServerFrame {
    /// A response (or, from the echo server, our own request): its call ID and status code.
    case call(id: UInt64, code: UInt64)
    case settings
    case goAway
    case other
    case malformed

    /// Reads a frame body (after the length prefix) without allocating.
    static func parse(_ p: UnsafeRawBufferPointer) -> ServerFrame {
        var i = 0
        guard let tag = ProtoBytes.readVarint(p, &i) else { return .malformed }
        let kind = tag >> 3
        switch kind {
        case 1, 2: break  // request (echoed) or response
        case 6: return .goAway
        case 7: return .settings
        default: return .other
        }
        guard tag & 7 == 2, let length = ProtoBytes.readVarint(p, &i), i + Int(length) <= p.count else { return .malformed }
        let end = i + Int(length)
        var callID: UInt64 = 0
        var code: UInt64 = 0
        while i < end {
            guard let fieldTag = ProtoBytes.readVarint(p, &i) else { return .malformed }
            let field = fieldTag >> 3
            let wireType = fieldTag & 7
            if field == 1, wireType == 0 {
                guard let v = ProtoBytes.readVarint(p, &i) else { return .malformed }
                callID = v
            } else if kind == 2, field == 2, wireType == 2 {
                // Response.status: its field 1 is the code.
                guard let n = ProtoBytes.readVarint(p, &i) else { return .malformed }
                let statusEnd = i + Int(n)
                guard statusEnd <= end else { return .malformed }
                while i < statusEnd {
                    guard let t = ProtoBytes.readVarint(p, &i) else { return .malformed }
                    if t == 0x08 {
                        guard let c = ProtoBytes.readVarint(p, &i) else { return .malformed }
                        code = c
                    } else if !ProtoBytes.skip(p, &i, wireType: t & 7) {
                        return .malformed
                    }
                }
            } else if !ProtoBytes.skip(p, &i, wireType: wireType) {
                return .malformed
            }
        }
        return .call(id: callID, code: code)
    }
}
