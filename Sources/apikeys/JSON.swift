import APIKeysWire
/// A small JSON value for --json output; objects keep their key order so the output
/// reads like the table it replaces.
// Sendable said, not inferred: inferring it for these mutually recursive types can cycle in the compiler.
enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    /// Two-space indented, one field a line.
    func rendered(indent: String = "") -> String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .uint(let value): return String(value)
        case .string(let value): return Self.quoted(value)
        case .array(let values):
            guard !values.isEmpty else { return "[]" }
            let inner = indent + "  "
            return "[\n" + values.map { inner + $0.rendered(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let object):
            guard !object.pairs.isEmpty else { return "{}" }
            let inner = indent + "  "
            let fields = object.pairs.map { inner + Self.quoted($0.0) + ": " + $0.1.rendered(indent: inner) }
            return "{\n" + fields.joined(separator: ",\n") + "\n\(indent)}"
        }
    }

    static func quoted(_ text: String) -> String {
        JSONValue.quoted(text)
    }
}

/// An ordered JSON object, written as a dictionary literal.
struct JSONObject: Equatable, Sendable, ExpressibleByDictionaryLiteral {
    var pairs: [(String, JSON)]

    init(dictionaryLiteral elements: (String, JSON)...) {
        pairs = elements
    }

    static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.pairs.map(\.0) == rhs.pairs.map(\.0) && lhs.pairs.map(\.1) == rhs.pairs.map(\.1)
    }
}

extension JSON {
    /// A time in Unix milliseconds as ISO 8601 UTC; null when unset (0).
    static func time(_ milliseconds: Int64) -> JSON {
        milliseconds == 0 ? .null : .string(Timestamp.iso8601(milliseconds))
    }
}
