/// The random part of a key or credential ID: 20 lowercase base32 characters (100 bits),
/// packed into two words so the verification index keys on it without allocating (X7, X8).
public struct CompactID: Sendable, Hashable {
    public var high: UInt64
    public var low: UInt64

    /// The number of base32 characters in an ID's random part.
    public static let length = 20

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses 20 base32 characters; nil on any other input.
    init?(base32 chars: UnsafeBufferPointer<UInt8>) {
        guard chars.count == CompactID.length else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (i, c) in chars.enumerated() {
            let v: UInt64
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt64(c - UInt8(ascii: "a"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"): v = UInt64(c - UInt8(ascii: "2") + 26)
            default: return nil
            }
            // The first 10 characters go to `high`, the last 10 to `low` (50 bits each).
            if i < 10 { high = high << 5 | v } else { low = low << 5 | v }
        }
        self.init(high: high, low: low)
    }

    /// Parses an ID such as `key_abcdefghij234567abcd` with the given prefix.
    public init?(_ id: String, prefix: String) {
        var id = id
        let parsed: CompactID? = id.withUTF8 { bytes in
            let p = prefix.utf8.count
            guard bytes.count == p + CompactID.length,
                  bytes.prefix(p).elementsEqual(prefix.utf8)
            else { return nil }
            return CompactID(base32: UnsafeBufferPointer(rebasing: bytes[p...]))
        }
        guard let parsed else { return nil }
        self = parsed
    }

    /// A fresh random ID from the system's CSPRNG.
    static func random() -> CompactID {
        var rng = SystemRandomNumberGenerator()
        let mask: UInt64 = (1 << 50) - 1
        return CompactID(high: rng.next() & mask, low: rng.next() & mask)
    }

    /// The 20 base32 characters.
    public var base32: String { string(prefix: "") }

    /// The full ID with its prefix, e.g. `key_...`: built in place, since every successful
    /// Verify names its key (an array and a concatenation cost ~1,500 instructions).
    public func string(prefix: String) -> String {
        var prefix = prefix
        return prefix.withUTF8 { p in
            String(unsafeUninitializedCapacity: p.count + CompactID.length) { out in
                _ = out.initialize(fromContentsOf: p)
                var h = high
                var l = low
                for i in stride(from: 9, through: 0, by: -1) {
                    out[p.count + i] = Self.base32Digit(h & 31)
                    out[p.count + i + 10] = Self.base32Digit(l & 31)
                    h >>= 5
                    l >>= 5
                }
                return p.count + CompactID.length
            }
        }
    }

    /// The base32 digit of `v` (alphabet a-z then 2-7), without a table lookup.
    @inline(__always)
    private static func base32Digit(_ v: UInt64) -> UInt8 {
        v < 26 ? UInt8(ascii: "a") + UInt8(v) : UInt8(ascii: "2") + UInt8(v - 26)
    }
}
