/// Caller input quoted in an error message, cut to a few bytes (X16): an error must not
/// grow with what the caller sent, or a 1 MiB method name buys a 1 MiB answer.
enum EchoedText {
    /// Most bytes of caller input one message quotes.
    static let limit = 128

    /// `text` when it has at most `limit` bytes of UTF-8; otherwise its first `limit` bytes,
    /// cut back to a whole character, and a note of the cut with the full size.
    static func quote(_ text: String, limit: Int = limit) -> String {
        quote(text[...], limit: limit)
    }

    /// `quote` for a part of the caller's text (a method path's service or method name).
    /// Anything shaped like one of our secrets (X19: `apk_`, `aks_`, `ako_` and a long token)
    /// is shown as `[redacted]`: the wire cannot check a checksum, and over-redacting an
    /// error message costs nothing.
    static func quote(_ text: Substring, limit: Int = limit) -> String {
        // Only the part that can be shown is scanned (a secret is 73 bytes): the work stays
        // bounded however long the caller's text is.
        let shown = text.utf8.count > limit + 80 ? Substring(text.utf8.prefix(limit + 80)) : text
        let redacted = redactingSecretShapes(shown)
        let total = text.utf8.count
        let utf8 = redacted.utf8
        guard total > limit || utf8.count > limit else { return String(redacted) }
        guard utf8.count > limit else { return String(redacted) + "…(cut, \(total) bytes)" }
        var end = utf8.index(utf8.startIndex, offsetBy: limit)
        // UTF-8 continuation bytes are 0b10xxxxxx: back up to the start of a scalar.
        while end > utf8.startIndex, utf8[end] & 0xC0 == 0x80 {
            end = utf8.index(before: end)
        }
        return String(decoding: utf8[..<end], as: UTF8.self) + "…(cut, \(total) bytes)"
    }

    static let secretPrefixes: [[UInt8]] = ["apk_", "aks_", "ako_"].map { Array($0.utf8) }

    /// Replaces each secret prefix followed by 20 or more token characters.
    static func redactingSecretShapes(_ text: Substring) -> Substring {
        let bytes = Array(text.utf8)
        guard bytes.count >= 24 else { return text }
        var out: [UInt8] = []
        var i = 0
        var changed = false
        while i < bytes.count {
            if i + 4 <= bytes.count, secretPrefixes.contains(where: { $0.elementsEqual(bytes[i..<(i + 4)]) }) {
                var j = i + 4
                while j < bytes.count, isTokenByte(bytes[j]) { j += 1 }
                if j - i - 4 >= 20 {
                    out += Array("[redacted]".utf8)
                    i = j
                    changed = true
                    continue
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return changed ? Substring(String(decoding: out, as: UTF8.self)) : text
    }

    private static func isTokenByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
    }
}
