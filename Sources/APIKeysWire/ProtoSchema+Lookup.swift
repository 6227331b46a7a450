extension ProtoSchema {
    /// The method a person means: `/apikeys.v1.Keys/Generate`, `apikeys.v1.Keys/Generate`,
    /// `Keys/Generate` or `Keys.Generate`; exact case first, then any case if that is unambiguous.
    /// A name that matches nothing gets an error naming the nearest methods.
    public static func method(named text: String) throws(ProtoSchemaError) -> ProtoMethod {
        let trimmed = text.hasPrefix("/") ? String(text.dropFirst()) : text
        let separator = trimmed.lastIndex(of: "/") ?? trimmed.lastIndex(of: ".")
        if let separator {
            let service = String(trimmed[..<separator])
            let name = String(trimmed[trimmed.index(after: separator)...])
            for caseSensitive in [true, false] {
                let found = methods.filter { method in
                    let short = String(method.service.split(separator: ".").last ?? "")
                    return [method.service, short].contains { same($0, service, caseSensitive) } && same(method.name, name, caseSensitive)
                }
                if found.count == 1 { return found[0] }
                if found.count > 1 {
                    throw ProtoSchemaError(message: "\(text) is ambiguous: " + found.map(\.path).joined(separator: ", "))
                }
            }
        }
        let forms = methods.map { "\(String($0.service.split(separator: ".").last ?? ""))/\($0.name)" }
        // Compare like with like: what was typed, in the short form `Service/Method`.
        var typed = trimmed
        if let separator {
            let service = trimmed[..<separator].split(separator: ".").last ?? ""
            typed = "\(service)/\(trimmed[trimmed.index(after: separator)...])"
        }
        var near = Suggestions.nearest(typed, among: forms)
        // The right method name under the wrong service, or a bare method name: every method of that name.
        let methodName = "/" + (separator.map { String(trimmed[trimmed.index(after: $0)...]) } ?? trimmed).lowercased()
        near += forms.filter { $0.lowercased().hasSuffix(methodName) && !near.contains($0) }
        let hint = near.isEmpty ? "; apikeys call --list shows them all" : " (did you mean \(near.joined(separator: " or "))?)"
        throw ProtoSchemaError(message: "no method \(text)\(hint)")
    }

    /// The message type a person means: a full name (`apikeys.v1.ApiKey`) or, when it is
    /// unambiguous, the name without the package (`ApiKey`, `Event.DetailsEntry`).
    public static func messageType(matching text: String) throws(ProtoSchemaError) -> ProtoMessageType {
        if let type = messageType(named: text) { return type }
        let found = messageTypes.filter { $0.name.hasSuffix("." + text) }
        if found.count == 1 { return found[0] }
        if found.count > 1 {
            throw ProtoSchemaError(message: "\(text) is ambiguous: " + found.map(\.name).joined(separator: ", "))
        }
        let names = messageTypes.map { String($0.name.split(separator: ".").last ?? "") }
        throw ProtoSchemaError(message: "no message type \(text)" + Suggestions.didYouMean(text, among: names))
    }

    private static func same(_ a: String, _ b: String, _ caseSensitive: Bool) -> Bool {
        caseSensitive ? a == b : a.lowercased() == b.lowercased()
    }
}

/// A method or message type that is not in the schema.
public struct ProtoSchemaError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public var description: String { message }
}
