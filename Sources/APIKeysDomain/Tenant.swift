/// One customer organisation; nothing crosses tenants (X1).
public struct Tenant: Sendable, Hashable {
    /// 1 to 63 of [a-z0-9-], starting with a letter or digit.
    public var id: String
    public var name: String
    public var createdAt: Int64
    public var settings: TenantSettings

    public init(id: String, name: String, createdAt: Int64, settings: TenantSettings) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.settings = settings
    }
}
