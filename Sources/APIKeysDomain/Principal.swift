/// X8: who a verified key acts for; returned to internal services by Verify.
public struct Principal: Sendable, Hashable {
    public var tenantID: String
    public var userID: String
    public var keyID: String
    /// The owner's roles now ("Developer", "TenantAdmin"), read at verification time (X13).
    public var roles: [String]
    public var expiresAt: Int64

    public init(tenantID: String, userID: String, keyID: String, roles: [String], expiresAt: Int64) {
        self.tenantID = tenantID
        self.userID = userID
        self.keyID = keyID
        self.roles = roles
        self.expiresAt = expiresAt
    }
}
