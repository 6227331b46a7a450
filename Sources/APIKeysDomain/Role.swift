/// A role a tenant admin grants in the tenant's directory (R3, R4, R5).
public enum Role: String, Sendable, Hashable, CaseIterable, Comparable {
    /// R4: may generate and delete API keys.
    case developer = "Developer"
    /// R3: may revoke any key of the tenant, edit settings and manage roles.
    case tenantAdmin = "TenantAdmin"

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Every role in `sortedNames` order, sorted once (Verify names a principal's roles).
    static let sortedCases = allCases.sorted()
}

extension Set where Element == Role {
    /// Roles in a stable order, as the Principal and the stores carry them.
    public var sortedNames: [String] {
        var names: [String] = []
        names.reserveCapacity(count)
        for role in Role.sortedCases where contains(role) { names.append(role.rawValue) }
        return names
    }

    /// Parses a comma-separated list as the stores keep it; unknown names are ignored.
    public init(storedNames: String) {
        self.init(storedNames.split(separator: ",").compactMap { Role(rawValue: String($0)) })
    }

    /// The comma-separated form the stores keep.
    public var storedNames: String { sortedNames.joined(separator: ",") }
}
