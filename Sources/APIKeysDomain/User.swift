/// A user of a tenant's directory, with the roles and license that gate key operations
/// (R4, R5, R17). Read fresh at each call (X13).
public struct User: Sendable, Hashable {
    public var tenantID: String
    /// 1 to 128 printable characters without spaces.
    public var userID: String
    public var displayName: String
    public var roles: Set<Role>
    /// R17: whether the user has a seat.
    public var licensed: Bool
    public var createdAt: Int64

    public init(
        tenantID: String, userID: String, displayName: String,
        roles: Set<Role>, licensed: Bool, createdAt: Int64
    ) {
        self.tenantID = tenantID
        self.userID = userID
        self.displayName = displayName
        self.roles = roles
        self.licensed = licensed
        self.createdAt = createdAt
    }

    public var isTenantAdmin: Bool { roles.contains(.tenantAdmin) }
    public var isDeveloper: Bool { roles.contains(.developer) }
}
