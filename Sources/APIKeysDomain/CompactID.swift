/// The random part of a key or credential ID: 20 lowercase base32 characters (100 bits),
/// packed into two words so the verification index keys on it without allocating (X7, X8).
public struct CompactID: Sendable, Hashable {
    public var high: UInt64
    public var low: UInt64

    /// The number of base32 characters in an ID's random part.
    public static let length = 20
    static let alphabet: [UInt8] = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

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
    public var base32: String {
        var chars = [UInt8](repeating: 0, count: CompactID.length)
        var h = high
        var l = low
        for i in stride(from: 9, through: 0, by: -1) {
            chars[i] = CompactID.alphabet[Int(h & 31)]
            chars[i + 10] = CompactID.alphabet[Int(l & 31)]
            h >>= 5
            l >>= 5
        }
        return String(decoding: chars, as: UTF8.self)
    }

    /// The full ID with its prefix, e.g. `key_...`.
    public func string(prefix: String) -> String { prefix + base32 }
}
