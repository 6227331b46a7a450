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
    static func quote(_ text: Substring, limit: Int = limit) -> String {
        let utf8 = text.utf8
        guard utf8.count > limit else { return String(text) }
        var end = utf8.index(utf8.startIndex, offsetBy: limit)
        // UTF-8 continuation bytes are 0b10xxxxxx: back up to the start of a scalar.
        while end > utf8.startIndex, utf8[end] & 0xC0 == 0x80 {
            end = utf8.index(before: end)
        }
        return String(decoding: utf8[..<end], as: UTF8.self) + "…(cut, \(utf8.count) bytes)"
    }
}
