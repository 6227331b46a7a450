@testable import APIKeysWire
import NIOCore
import Synchronization
import Testing

/// Shared helpers of the wire tests.
enum Wire {
    /// Bytes from a hex string; spaces and newlines are ignored.
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = hex.filter { !$0.isWhitespace }
        precondition(digits.count % 2 == 0, "odd number of hex digits")
        var result: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            result.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// A protobuf varint.
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
        return out
    }

    /// A length-delimited protobuf field.
    static func field(_ number: UInt64, _ payload: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(payload.count)) + payload
    }

    /// `pattern` repeated `count` times.
    static func repeated(_ pattern: [UInt8], count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(pattern.count * count)
        for _ in 0..<count { out.append(contentsOf: pattern) }
        return out
    }

    /// A 4-byte big-endian length prefix followed by `body`.
    static func framed(_ body: [UInt8]) -> [UInt8] {
        let n = UInt32(body.count)
        return [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)] + body
    }

    /// Every event `FrameDecoder` finds in `bytes`, fed in one piece.
    static func decodeAll(_ bytes: [UInt8], expectPreface: Bool = false,
                          maxFrameSize: Int = 4 * 1024 * 1024) throws(WireError) -> [FrameDecoder.Event] {
        var decoder = FrameDecoder(expectPreface: expectPreface, maxFrameSize: maxFrameSize)
        var buffer = ByteBuffer(bytes: bytes)
        var events: [FrameDecoder.Event] = []
        while let event = try decoder.next(&buffer) {
            events.append(event)
        }
        return events
    }

    /// Encodes with `FrameCodec` and decodes with a client-side `FrameDecoder`; the
    /// encoding must be consumed exactly.
    static func roundTrip(_ frame: Frame, maxFrameSize: Int = 4 * 1024 * 1024) throws(WireError) -> Frame? {
        var decoder = FrameDecoder(expectPreface: false, maxFrameSize: maxFrameSize)
        var buffer = ByteBuffer(bytes: FrameCodec.encode(frame))
        guard case .frame(let decoded)? = try decoder.next(&buffer), buffer.readableBytes == 0 else { return nil }
        return decoded
    }

    /// Decodes every frame in `buffer` (server output, no preface).
    static func frames(in buffer: ByteBuffer) throws -> [Frame] {
        var decoder = FrameDecoder(expectPreface: false, maxFrameSize: Int(UInt32.max))
        var buffer = buffer
        var frames: [Frame] = []
        while let event = try decoder.next(&buffer) {
            if case .frame(let frame) = event { frames.append(frame) }
        }
        return frames
    }
}

/// A frame body (no length prefix), as `FrameCodec.decode(body:)` wants it.
func decodeBody(_ body: [UInt8]) throws -> Frame {
    try body.withUnsafeBytes { bytes in try FrameCodec.decode(body: bytes) }
}

/// Holds async handlers until the test opens it.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let openAlready = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if openAlready { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Waits until `condition` holds, polling; fails the test after `timeout`.
func eventually(timeout: Duration = .seconds(5), _ what: String = "condition",
                sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool) async rethrows {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try? await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
}
