/// A role a tenant admin grants in the tenant's directory (R3, R4, R5).
public enum Role: String, Sendable, Hashable, CaseIterable, Comparable {
    /// R4: may generate and delete API keys.
    case developer = "Developer"
    /// R3: may revoke any key of the tenant, edit settings and manage roles.
    case tenantAdmin = "TenantAdmin"

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Every role in `sortedNames` order, sorted once (Verify names a principal's roles).
    static let sortedCases = allCases.sorted()

    /// `sortedNames` of every set of roles, by `setIndex`, built once: Verify names a
    /// principal's roles on every call, and a new array each time was an allocation.
    static let sortedNamesOfEverySet: [[String]] = (0..<(1 << sortedCases.count)).map { index in
        sortedCases.indices.filter { index & (1 << $0) != 0 }.map { sortedCases[$0].rawValue }
    }

    /// A set's position in `sortedNamesOfEverySet`: bit i set for `sortedCases[i]`. It walks
    /// the set: `contains` would hash each role's raw value.
    static func setIndex(_ roles: Set<Role>) -> Int {
        var index = 0
        for role in roles { index |= 1 << role.sortedPosition }
        return index
    }

    /// The role's index in `sortedCases` (checked against it by a test).
    var sortedPosition: Int {
        switch self {
        case .developer: 0
        case .tenantAdmin: 1
        }
    }
}

extension Set where Element == Role {
    /// Roles in a stable order, as the Principal and the stores carry them.
    public var sortedNames: [String] {
        Role.sortedNamesOfEverySet[Role.setIndex(self)]
    }

    /// Parses a comma-separated list as the stores keep it; unknown names are ignored.
    public init(storedNames: String) {
        self.init(storedNames.split(separator: ",").compactMap { Role(rawValue: String($0)) })
    }

    /// The comma-separated form the stores keep.
    public var storedNames: String { sortedNames.joined(separator: ",") }
}
