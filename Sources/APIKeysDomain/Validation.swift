import Foundation

/// Input rules for names and identifiers (X12, directory.proto).
public enum Validation {
    /// X12: trims, then requires 1 to 256 characters of printable Unicode.
    public static func keyName(_ raw: String) throws(DomainError) -> String {
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else {
            throw .invalidArgument("the key name is empty; give 1 to 256 printable characters", rule: "X12", reason: "name_empty")
        }
        guard name.count <= 256, name.unicodeScalars.count <= 1024 else {
            throw .invalidArgument("the key name has \(name.count) characters; at most 256 are allowed", rule: "X12", reason: "name_too_long")
        }
        if let bad = name.unicodeScalars.first(where: { !isPrintable($0) }) {
            let code = String(bad.value, radix: 16, uppercase: true)
            throw .invalidArgument("the key name contains the non-printable character U+\(code)", rule: "X12", reason: "name_not_printable")
        }
        return name
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

    /// 1 to 63 of [a-z0-9-], starting with a letter or digit.
    public static func tenantID(_ id: String) throws(DomainError) {
        let bytes = Array(id.utf8)
        let ok = (1...63).contains(bytes.count)
            && bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
            && isLowerAlnum(bytes[0])
        guard ok else {
            throw .invalidArgument("tenant ID \"\(id)\" must be 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit", reason: "invalid_tenant_id")
        }
    }

    /// 1 to 128 printable characters without spaces.
    public static func userID(_ id: String) throws(DomainError) {
        let ok = (1...128).contains(id.count)
            && id.unicodeScalars.allSatisfy { isPrintable($0) && !$0.properties.isWhitespace }
        guard ok else {
            throw .invalidArgument("user ID must be 1 to 128 printable characters without spaces", reason: "invalid_user_id")
        }
    }

    /// 1 to 64 of [a-z0-9-_]: the actor name of a service in events.
    public static func serviceName(_ name: String) throws(DomainError) {
        let bytes = Array(name.utf8)
        let ok = (1...64).contains(bytes.count)
            && bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        guard ok else {
            throw .invalidArgument("service name \"\(name)\" must be 1 to 64 of a-z, 0-9, '-' and '_'", reason: "invalid_service_name")
        }
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
