import APIKeysWire
import BenchCore
import BenchMessages
import CMallocCounter
import Foundation
import NIOCore
import SwiftProtobuf

// Frame encode + decode of the Verify hot path's two frames, each way as the peers do it:
//  - protobuf-c: APIKeysWire's ProtoMessage and FrameCodec (the C target, as apikeysd runs it)
//  - swift-protobuf: generated Apikeys_V1_* messages, the frame built and parsed the same way
// "encode" = message to bytes, into a request/response frame, frame to bytes with its length
// prefix; "decode" = frame bytes to frame, then its message bytes to the message.
// Prints one line per case: ns per frame (best of 7 runs) and heap allocations per frame.
//
//   bench-codec [--iterations 200000]
let args = Arguments()
let iterations = args.int("iterations", 200_000)

let secret = "apk_" + String(repeating: "a", count: 20) + String(repeating: "Z", count: 43) + "000000"
let credential = "Service aks_" + String(repeating: "b", count: 20) + String(repeating: "Y", count: 43) + "111111"
let method = "/apikeys.v1.Verification/Verify"
let principal = (tenant: "bench", user: "user-0042", key: "key_" + String(repeating: "c", count: 20),
                 roles: ["Developer"], expires: Int64(1_900_000_000_000))

/// A sink the optimiser cannot see through.
nonisolated(unsafe) var sink = 0

struct Case {
    var name: String
    var encode: () -> ByteBuffer
    var decode: (ByteBuffer) -> Int
}

// MARK: protobuf-c through APIKeysWire

let cRequest = Case(
    name: "request",
    encode: {
        let message = APIKeysV1.VerifyRequest(secret: secret).serializedBytes()
        var buffer = ByteBuffer()
        FrameCodec.encode(.request(RequestFrame(callID: 12345, method: method, metadata: ["authorization": credential], message: message)), into: &buffer)
        return buffer
    },
    decode: { buffer in
        let frame = try! buffer.withUnsafeReadableBytes { try FrameCodec.decode(body: UnsafeRawBufferPointer(rebasing: $0[4...])) }
        guard case .request(let r) = frame else { fatalError() }
        return try! APIKeysV1.VerifyRequest(serializedBytes: r.message).secret.utf8.count + r.metadata.count
    })

let cResponse = Case(
    name: "response",
    encode: {
        let message = APIKeysV1.VerifyResponse(principal: APIKeysV1.Principal(
            tenantID: principal.tenant, userID: principal.user, keyID: principal.key,
            roles: principal.roles, expiresAtMs: principal.expires)).serializedBytes()
        var buffer = ByteBuffer()
        FrameCodec.encode(.response(ResponseFrame(callID: 12345, message: message)), into: &buffer)
        return buffer
    },
    decode: { buffer in
        let frame = try! buffer.withUnsafeReadableBytes { try FrameCodec.decode(body: UnsafeRawBufferPointer(rebasing: $0[4...])) }
        guard case .response(let r) = frame else { fatalError() }
        return try! APIKeysV1.VerifyResponse(serializedBytes: r.message).principal!.keyID.utf8.count
    })

// MARK: swift-protobuf

@MainActor func framed(_ frame: Apikeys_V1_Frame) -> ByteBuffer {
    let body: [UInt8] = try! frame.serializedBytes()
    var buffer = ByteBuffer()
    buffer.reserveCapacity(4 + body.count)
    buffer.writeInteger(UInt32(body.count))
    buffer.writeBytes(body)
    return buffer
}

@MainActor func unframed(_ buffer: ByteBuffer) -> Apikeys_V1_Frame {
    try! buffer.withUnsafeReadableBytes { raw in
        try Apikeys_V1_Frame(serializedBytes: UnsafeRawBufferPointer(rebasing: raw[4...]))
    }
}

let swiftRequest = Case(
    name: "request",
    encode: {
        var message = Apikeys_V1_VerifyRequest()
        message.secret = secret
        var request = Apikeys_V1_Request()
        request.callID = 12345
        request.method = method
        request.metadata = ["authorization": credential]
        request.message = try! message.serializedData()
        var frame = Apikeys_V1_Frame()
        frame.request = request
        return framed(frame)
    },
    decode: { buffer in
        let frame = unframed(buffer)
        guard case .request(let r) = frame.kind else { fatalError() }
        return try! Apikeys_V1_VerifyRequest(serializedBytes: r.message).secret.utf8.count + r.metadata.count
    })

let swiftResponse = Case(
    name: "response",
    encode: {
        var message = Apikeys_V1_VerifyResponse()
        message.principal.tenantID = principal.tenant
        message.principal.userID = principal.user
        message.principal.keyID = principal.key
        message.principal.roles = principal.roles
        message.principal.expiresAtMs = principal.expires
        var response = Apikeys_V1_Response()
        response.callID = 12345
        response.status.code = .ok
        response.message = try! message.serializedData()
        var frame = Apikeys_V1_Frame()
        frame.response = response
        return framed(frame)
    },
    decode: { buffer in
        let frame = unframed(buffer)
        guard case .response(let r) = frame.kind else { fatalError() }
        return try! Apikeys_V1_VerifyResponse(serializedBytes: r.message).principal.keyID.utf8.count
    })

// Both codecs must agree on the bytes' meaning: each decodes the other's frames.
precondition(swiftRequest.decode(cRequest.encode()) == cRequest.decode(cRequest.encode()))
precondition(cRequest.decode(swiftRequest.encode()) == swiftRequest.decode(swiftRequest.encode()))
precondition(swiftResponse.decode(cResponse.encode()) == cResponse.decode(cResponse.encode()))
precondition(cResponse.decode(swiftResponse.encode()) == swiftResponse.decode(swiftResponse.encode()))

/// Best-of-7 ns per call of `body`.
@MainActor func time(_ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<7 {
        let t0 = nowNanos()
        for _ in 0..<iterations { body() }
        best = min(best, Double(nowNanos() - t0) / Double(iterations))
    }
    return best
}

@MainActor func allocations(_ body: () -> Void) -> Double {
    let n = 10_000
    for _ in 0..<100 { body() }
    let before = bench_malloc_count()
    for _ in 0..<n { body() }
    return Double(bench_malloc_count() - before) / Double(n)
}

for (codec, cases) in [("protobuf-c", [cRequest, cResponse]), ("swift-protobuf", [swiftRequest, swiftResponse])] {
    for c in cases {
        let sample = c.encode()
        let encodeNs = time { sink &+= c.encode().readableBytes }
        let decodeNs = time { sink &+= c.decode(sample) }
        let bothNs = time { sink &+= c.decode(c.encode()) }
        let encodeAllocs = allocations { sink &+= c.encode().readableBytes }
        let decodeAllocs = allocations { sink &+= c.decode(sample) }
        print("codec=\(codec) frame=\(c.name) bytes=\(sample.readableBytes) encode_ns=\(fmt(encodeNs, 0)) decode_ns=\(fmt(decodeNs, 0)) total_ns=\(fmt(bothNs, 0)) encode_allocs=\(fmt(encodeAllocs, 1)) decode_allocs=\(fmt(decodeAllocs, 1))")
    }
}
if sink == 42 { print("") }
