import Foundation

/// The fields of an `application/x-www-form-urlencoded` body or a query string, in order.
///
/// A hand parser rather than `URLEncodedFormDecoder`: the bulk revoke form sends one
/// `key_id` per ticked row, and a repeated field must keep every value.
struct FormData: Sendable {
    private(set) var fields: [(name: String, value: String)] = []

    init(_ encoded: String) {
        for pair in encoded.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            fields.append((name, value))
        }
    }

    /// The first value of `name`, or nil.
    subscript(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// The first value of `name`, trimmed, or "" when absent.
    func text(_ name: String) -> String {
        (self[name] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every value of `name`, in the order sent.
    func all(_ name: String) -> [String] {
        fields.filter { $0.name == name }.map(\.value)
    }

    private static func decode(_ part: Substring) -> String {
        let spaced = part.replacingOccurrences(of: "+", with: " ")
        // Malformed escapes are kept as typed rather than dropping the field.
        return spaced.removingPercentEncoding ?? spaced
    }
}

extension FormData {
    /// Builds a query string (for links such as the next page), percent-encoding each value.
    static func query(_ items: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return items.filter { !$0.1.isEmpty }.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
    }
}
