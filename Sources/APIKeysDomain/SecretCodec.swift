/// X7: generates and parses secrets for API keys and the service and operator credentials.
///
/// Format: `<prefix><20 base32 ID chars><43 base62 random chars><6 base62 CRC-32 chars>`,
/// e.g. `apk_` + the key ID's random part + 256 bits of randomness + a checksum over
/// everything before it. The prefix lets scanners recognise leaked keys; the checksum
/// rejects typos and random strings without a lookup; the embedded ID finds the stored
/// hash without searching.
public enum SecretCodec {
    /// What a secret opens: an API key or a credential of the server.
    public enum Kind: Sendable, Hashable, CaseIterable {
        case apiKey
        case service
        case `operator`

        /// The secret's recognisable prefix.
        public var secretPrefix: String {
            switch self {
            case .apiKey: "apk_"
            case .service: "aks_"
            case .operator: "ako_"
            }
        }

        /// The prefix of the ID the secret embeds.
        public var idPrefix: String {
            switch self {
            case .apiKey: "key_"
            case .service: "svc_"
            case .operator: "opr_"
            }
        }
    }

    /// A freshly generated secret: show `secret` once, store only `hash` (X7, R18).
    public struct Generated: Sendable {
        public var id: String
        public var compactID: CompactID
        public var secret: String
        public var hash: SecretHash
    }

    /// What a well-formed secret tells before any lookup.
    public struct Parsed: Sendable, Hashable {
        public var kind: Kind
        public var id: CompactID
        public var hash: SecretHash
    }

    static let randomLength = 43  // 43 * log2(62) = 256.1 bits
    static let checksumLength = 6  // 62^6 > 2^32
    static let base62: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// The length of every secret: 4 + 20 + 43 + 6.
    public static let secretLength = 4 + CompactID.length + randomLength + checksumLength

    /// Generates a new secret with a new random ID.
    public static func generate(_ kind: Kind) -> Generated {
        let id = CompactID.random()
        var bytes = Array(kind.secretPrefix.utf8)
        bytes.reserveCapacity(secretLength)
        bytes.append(contentsOf: id.base32.utf8)
        var rng = SystemRandomNumberGenerator()
        // Rejection sampling on 6-bit values keeps every base62 character uniform.
        while bytes.count < 4 + CompactID.length + randomLength {
            let r = Int(UInt8.random(in: 0...255, using: &rng) & 63)
            if r < 62 { bytes.append(base62[r]) }
        }
        appendChecksum(to: &bytes)
        let secret = String(decoding: bytes, as: UTF8.self)
        let hash = bytes.withUnsafeBufferPointer { SecretHash(digestOf: $0) }
        return Generated(id: id.string(prefix: kind.idPrefix), compactID: id, secret: secret, hash: hash)
    }

    /// Parses and checks a secret of `kind`: length, prefix, alphabet and checksum.
    /// Nil when any is wrong: such a secret cannot open anything.
    public static func parse(_ secret: String, as kind: Kind) -> Parsed? {
        var secret = secret
        return secret.withUTF8 { parse(bytes: $0, as: kind) }
    }

    static func parse(bytes: UnsafeBufferPointer<UInt8>, as kind: Kind) -> Parsed? {
        guard bytes.count == secretLength else { return nil }
        let prefix = kind.secretPrefix.utf8
        guard bytes.prefix(prefix.count).elementsEqual(prefix) else { return nil }
        let bodyEnd = secretLength - checksumLength
        for c in bytes[(4 + CompactID.length)..<bodyEnd] where base62Value(c) == nil { return nil }
        guard let stated = decodeChecksum(bytes[bodyEnd...]),
              stated == crc32(UnsafeBufferPointer(rebasing: bytes[..<bodyEnd]))
        else { return nil }
        guard let id = CompactID(base32: UnsafeBufferPointer(rebasing: bytes[4..<(4 + CompactID.length)])) else {
            return nil
        }
        return Parsed(kind: kind, id: id, hash: SecretHash(digestOf: bytes))
    }

    /// Whether `text` looks like a secret of any kind with a valid checksum: what a leak scanner checks.
    public static func looksLikeSecret(_ text: String) -> Bool {
        Kind.allCases.contains { parse(text, as: $0) != nil }
    }

    static func appendChecksum(to bytes: inout [UInt8]) {
        var crc = bytes.withUnsafeBufferPointer { crc32($0) }
        var chars = [UInt8](repeating: 0, count: checksumLength)
        for i in stride(from: checksumLength - 1, through: 0, by: -1) {
            chars[i] = base62[Int(crc % 62)]
            crc /= 62
        }
        bytes.append(contentsOf: chars)
    }

    static func decodeChecksum(_ chars: Slice<UnsafeBufferPointer<UInt8>>) -> UInt32? {
        var value: UInt64 = 0
        for c in chars {
            guard let v = base62Value(c) else { return nil }
            value = value * 62 + UInt64(v)
        }
        return value <= UInt64(UInt32.max) ? UInt32(value) : nil
    }

    @inline(__always)
    static func base62Value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): c - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "z"): c - UInt8(ascii: "a") + 36
        default: nil
        }
    }

    /// CRC-32 (IEEE, as zlib) — detects every single-character typo and transposition.
    static func crc32(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
