/// X19: finding our secrets inside text a caller wrote, as a leak scanner would.
extension SecretCodec {
    /// Whether `text` contains a secret of any kind (prefix, alphabet and a valid checksum).
    public static func containsSecret(_ text: String) -> Bool {
        !secretRanges(in: Array(text.utf8)).isEmpty
    }

    /// `text` with every secret in it replaced by `[redacted apk_ secret]` (its prefix kept,
    /// so a reader still knows what kind of secret was pasted).
    public static func redactingSecrets(in text: String) -> String {
        let bytes = Array(text.utf8)
        let ranges = secretRanges(in: bytes)
        guard !ranges.isEmpty else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var at = 0
        for range in ranges {
            out += bytes[at..<range.lowerBound]
            out += Array("[redacted \(String(decoding: bytes[range.lowerBound..<range.lowerBound + 4], as: UTF8.self)) secret]".utf8)
            at = range.upperBound
        }
        out += bytes[at...]
        return String(decoding: out, as: UTF8.self)
    }

    /// The byte ranges of the secrets in `bytes`, in order, not overlapping. Linear: a secret
    /// is only tried where one of the three prefixes starts.
    static func secretRanges(in bytes: [UInt8]) -> [Range<Int>] {
        guard bytes.count >= secretLength else { return [] }
        let prefixes = Kind.allCases.map { (kind: $0, bytes: Array($0.secretPrefix.utf8)) }
        var ranges: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { buffer in
            var i = 0
            while i + secretLength <= buffer.count {
                // Every prefix is "ak?_" or "apk_": cheap to rule out.
                guard buffer[i] == UInt8(ascii: "a"), buffer[i + 3] == UInt8(ascii: "_") else { i += 1; continue }
                let candidate = UnsafeBufferPointer(rebasing: buffer[i..<(i + secretLength)])
                if prefixes.contains(where: { candidate.prefix(4).elementsEqual($0.bytes) && parse(bytes: candidate, as: $0.kind) != nil }) {
                    ranges.append(i..<(i + secretLength))
                    i += secretLength
                } else {
                    i += 1
                }
            }
        }
        return ranges
    }
}
