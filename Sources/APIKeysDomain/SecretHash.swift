import Foundation
import Crypto

/// The SHA-256 of a secret (X7), held inline as four words so that the verification index
/// stores a million of them without a heap allocation each.
public struct SecretHash: Sendable, Hashable {
    public var w0: UInt64
    public var w1: UInt64
    public var w2: UInt64
    public var w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// From the 32 stored bytes; nil when the length is wrong.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var i = 0
        for byte in bytes {
            let shift = UInt64((i % 8) * 8)
            switch i / 8 {
            case 0: words.0 |= UInt64(byte) << shift
            case 1: words.1 |= UInt64(byte) << shift
            case 2: words.2 |= UInt64(byte) << shift
            default: words.3 |= UInt64(byte) << shift
            }
            i += 1
        }
        (w0, w1, w2, w3) = words
    }

    /// From the 32 stored bytes in memory; nil when the length is wrong. The stores' snapshot
    /// loads read millions of hashes: the generic init walks them a byte at a time through a
    /// collection's iterator (8% of start-up at a million keys).
    public init?(raw bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 32 else { return nil }
        w0 = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// SHA-256 of the UTF-8 bytes of `secret`.
    public init(of secret: some StringProtocol) {
        var copy = String(secret)
        let digest = copy.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        self.init(bytes: Array(digest))!
    }

    init(digestOf bytes: UnsafeBufferPointer<UInt8>) {
        let digest = SHA256.hash(data: UnsafeRawBufferPointer(bytes))
        var result = SecretHash(w0: 0, w1: 0, w2: 0, w3: 0)
        digest.withUnsafeBytes { raw in
            result = SecretHash(
                w0: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                w1: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                w2: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                w3: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
        }
        self = result
    }

    /// The 32 bytes, as stored.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        for word in [w0, w1, w2, w3] {
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: word >> UInt64(i * 8))) }
        }
        return out
    }

    public var data: Data { Data(bytes) }

    /// X7: compares without an early exit, so timing does not tell how many bytes matched.
    public func constantTimeEquals(_ other: SecretHash) -> Bool {
        ((w0 ^ other.w0) | (w1 ^ other.w1) | (w2 ^ other.w2) | (w3 ^ other.w3)) == 0
    }
}
