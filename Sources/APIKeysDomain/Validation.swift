import Foundation

/// Input rules for names, identifiers and free text (X12, X15, X16, X19, directory.proto).
///
/// Every caller-supplied text that is stored or echoed passes one of these: identifiers are
/// NFC (X15), text is bounded in UTF-8 bytes as well as characters and refused, never cut,
/// when over (X16), and a pasted secret is refused in a name and redacted in prose (X19).
public enum Validation {
    /// X16: the most bytes of caller text an error message quotes.
    public static let quotedBytes = 128
    /// X16: a revoke reason, in UTF-8 bytes.
    public static let reasonBytes = 512
    /// X16: a key, tenant or display name, in UTF-8 bytes.
    public static let nameBytes = 1024
    /// A user ID, in UTF-8 bytes (besides its 128 characters).
    public static let userIDBytes = 512

    /// X12, X16, X19: trims, then requires 1 to 256 characters of printable Unicode in at
    /// most 1,024 bytes, and no secret.
    public static func keyName(_ raw: String) throws(DomainError) -> String {
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else {
            throw .invalidArgument("the key name is empty; give 1 to 256 printable characters", rule: "X12", reason: "name_empty")
        }
        // Over 256 characters is X12's refusal; within them but over 1,024 bytes, X16's.
        // Only 257 characters are walked, however long the name.
        guard name.index(name.startIndex, offsetBy: 256, limitedBy: name.endIndex).map({ $0 == name.endIndex }) ?? true else {
            throw .invalidArgument("the key name is longer than 256 characters", rule: "X12", reason: "name_too_long")
        }
        guard name.utf8.count <= nameBytes else { throw nameTooLong("key name", rule: "X16", reason: "name_too_long") }
        if let bad = name.unicodeScalars.first(where: { !isPrintable($0) }) {
            throw .invalidArgument("the key name contains the non-printable character U+\(hex(bad))", rule: "X12", reason: "name_not_printable")
        }
        try refuseSecret(name, what: "a key name")
        return name
    }

    /// X16, X19: a revoke reason, trimmed, at most 512 bytes (refused when over, never cut:
    /// one character can carry thousands of combining marks); a pasted secret is redacted.
    public static func revokeReason(_ raw: String) throws(DomainError) -> String {
        let reason = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard reason.utf8.count <= reasonBytes else { throw reasonTooLong() }
        // Tabs and line breaks are pasted with tickets; NUL and other controls never mean text
        // (and PostgreSQL's text cannot hold NUL: both stores answer the same).
        if let bad = reason.unicodeScalars.first(where: { !isPrintable($0) && !["\t", "\n", "\r"].contains($0) }) {
            throw .invalidArgument("the revoke reason contains the control character U+\(hex(bad))", rule: "X16", reason: "reason_not_printable")
        }
        return SecretCodec.redactingSecrets(in: reason)
    }

    private static func reasonTooLong() -> DomainError {
        .invalidArgument("the revoke reason is longer than \(reasonBytes) bytes (UTF-8)", rule: "X16", reason: "reason_too_long")
    }

    /// X16, X19: a user's display name: at most 1,024 bytes, printable, no secret.
    public static func displayName(_ name: String) throws(DomainError) {
        guard name.utf8.count <= nameBytes else { throw nameTooLong("display name", rule: "X16", reason: "display_name_too_long") }
        guard name.unicodeScalars.allSatisfy(isPrintable) else {
            throw .invalidArgument("the display name contains a non-printable character", rule: "X16", reason: "display_name_not_printable")
        }
        try refuseSecret(name, what: "a display name")
    }

    /// X16, X19: a tenant's name, trimmed: 1 to 256 printable characters in at most 1,024 bytes, no secret.
    public static func tenantName(_ raw: String) throws(DomainError) -> String {
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard name.utf8.count <= nameBytes else { throw nameTooLong("tenant name", rule: "X16", reason: "invalid_tenant_name") }
        guard (1...256).contains(name.count), name.unicodeScalars.allSatisfy(isPrintable) else {
            throw .invalidArgument("the tenant name must be 1 to 256 printable characters", reason: "invalid_tenant_name")
        }
        try refuseSecret(name, what: "a tenant name")
        return name
    }

    /// R7, X16: the key search text, trimmed and lower-cased: at most 256 characters and 1,024 bytes.
    static func search(_ raw: String) throws(DomainError) -> String {
        let tooLong = DomainError.invalidArgument("the search text is longer than 256 characters or \(nameBytes) bytes", rule: "R7", reason: "search_too_long")
        guard raw.utf8.count <= 4 * nameBytes else { throw tooLong }  // before lower-casing a copy of megabytes
        let search = raw.trimmingCharacters(in: .whitespaces).lowercased()
        guard search.utf8.count <= nameBytes, search.count <= 256 else { throw tooLong }
        // No stored name, owner or ID holds one, so such a search could only match nothing.
        if let bad = search.unicodeScalars.first(where: { !isPrintable($0) }) {
            throw .invalidArgument("the search text contains the non-printable character U+\(hex(bad))", rule: "R7", reason: "search_not_printable")
        }
        return search
    }

    private static func nameTooLong(_ what: String, rule: String, reason: String) -> DomainError {
        .invalidArgument("the \(what) is longer than \(nameBytes) bytes (UTF-8)", rule: rule, reason: reason)
    }

    /// X19: a secret pasted where a name or identifier goes is refused, and not repeated.
    private static func refuseSecret(_ text: String, what: String) throws(DomainError) {
        guard !SecretCodec.containsSecret(text) else {
            throw .invalidArgument("\(what) must not contain a secret; if it was a real one, revoke it", rule: "X19", reason: "secret_in_text")
        }
    }

    /// Printable: not a control, surrogate, private-use, unassigned or line/paragraph
    /// separator; format characters only as the zero-width joiner of emoji sequences.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator:
            false
        case .format:
            scalar.value == 0x200D
        default:
            true
        }
    }

    // MARK: Identifiers (X15)

    /// 1 to 63 of [a-z0-9-], starting with a letter or digit (so NFC).
    public static func tenantID(_ id: String) throws(DomainError) {
        let bytes = id.utf8
        let ok = (1...63).contains(bytes.count)
            && bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
            && isLowerAlnum(bytes.first!)
        guard ok else {
            throw .invalidArgument("tenant ID \(quoted(id)) must be 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit", reason: "invalid_tenant_id")
        }
    }

    /// 1 to 128 printable characters without spaces, in at most 512 bytes, in NFC (X15),
    /// and not a secret (X19).
    public static func userID(_ id: String) throws(DomainError) {
        // Bytes first: a 3 MB ID is refused without walking its characters.
        let ok = (1...userIDBytes).contains(id.utf8.count) && id.count <= 128
            && id.unicodeScalars.allSatisfy { isPrintable($0) && !$0.properties.isWhitespace }
        guard ok else {
            throw .invalidArgument("user ID must be 1 to 128 printable characters without spaces, at most \(userIDBytes) bytes", rule: "X16", reason: "invalid_user_id")
        }
        // X15: no invisible characters (zero-width joiner, variation selectors, the combining
        // grapheme joiner), so "admin" and "admin\u{200D}" cannot be two users who look alike.
        guard !id.unicodeScalars.contains(where: { $0.properties.isDefaultIgnorableCodePoint }) else {
            throw .invalidArgument("user ID contains an invisible character; use visible characters only", rule: "X15", reason: "invalid_user_id")
        }
        guard isNFC(id) else {
            throw .invalidArgument("user ID \(quoted(id)) is not in Unicode NFC; send its composed form", rule: "X15", reason: "identifier_not_nfc")
        }
        try refuseSecret(id, what: "a user ID")
    }

    /// 1 to 64 of [a-z0-9-_]: the actor name of a service in events.
    public static func serviceName(_ name: String) throws(DomainError) {
        let bytes = name.utf8
        let ok = (1...64).contains(bytes.count)
            && bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        guard ok else {
            throw .invalidArgument("service name \(quoted(name)) must be 1 to 64 of a-z, 0-9, '-' and '_'", reason: "invalid_service_name")
        }
        try refuseSecret(name, what: "a service name")
    }

    /// X15, X16, X19: the `x-tenant-id` and `x-user-id` a service sends to act for a user,
    /// checked before they are looked up or quoted (absent or empty values pass: the caller
    /// resolution decides what is missing). Call at every entry of request metadata.
    public static func actingIdentity(tenantID: String?, userID: String?) throws(DomainError) {
        if let tenantID, !tenantID.isEmpty {
            guard !SecretCodec.containsSecret(tenantID) else {
                throw .invalidArgument("x-tenant-id must not contain a secret; if it was a real one, revoke it", rule: "X19", reason: "secret_in_text")
            }
            try Validation.tenantID(tenantID)
        }
        if let userID, !userID.isEmpty { try Validation.userID(userID) }
    }

    /// X15: whether `text` is in Unicode Normalization Form C. ASCII always is.
    public static func isNFC(_ text: String) -> Bool {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return true }
        return text.precomposedStringWithCanonicalMapping.isByteEqual(to: text)
    }

    // MARK: Echoing caller text (X16, X19)

    /// Caller text as an error message may quote it: in double quotes, secrets redacted, cut
    /// at a character boundary to at most ``quotedBytes`` bytes, with "…" when cut.
    public static func quoted(_ text: String) -> String {
        let shown = escapingControls(SecretCodec.redactingSecrets(in: String(decoding: text.utf8.prefix(quotedBytes + 4 * 73), as: UTF8.self)))
        guard shown.utf8.count > quotedBytes else { return "\"\(shown)\"" }
        return "\"\(prefix(shown, bytes: quotedBytes))…\""
    }

    /// Control characters as `\u{…}`: a message never carries a NUL (which PostgreSQL's text
    /// cannot store) or a terminal escape to whoever reads it.
    static func escapingControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                escaped += "\\u{\(hex(scalar))}"
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    static func hex(_ scalar: Unicode.Scalar) -> String {
        let digits = String(scalar.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The longest prefix of `text` of at most `bytes` UTF-8 bytes that ends on a scalar boundary.
    static func prefix(_ text: String, bytes: Int) -> String {
        let utf8 = Array(text.utf8)
        guard utf8.count > bytes else { return text }
        var end = bytes
        while end > 0, utf8[end] & 0xC0 == 0x80 { end -= 1 }  // a continuation byte: back to the lead
        return String(decoding: utf8[..<end], as: UTF8.self)
    }

    /// X11: 0 means 20; otherwise 1 to 100.
    static func pageSize(_ size: Int) throws(DomainError) -> Int {
        if size == 0 { return 20 }
        guard (1...100).contains(size) else {
            throw .invalidArgument("page size \(size) is out of range: give 1 to 100, or 0 for 20", rule: "X11", reason: "invalid_page_size")
        }
        return size
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
    }
}
