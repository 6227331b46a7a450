/// The tenant's API-key settings (R2, R14, R15, R16, X2, X9).
public struct TenantSettings: Sendable, Hashable {
    /// R2, R14: off by default; switches every key of the tenant on or off (X4).
    public var apiKeysEnabled: Bool
    /// X2: the latest expiry a new key may get, in seconds; new keys only (R15).
    public var maxExpirySeconds: UInt64
    /// X2: how many Active keys one user may own; new keys only (R16, X3).
    public var maxKeysPerUser: UInt32
    /// X9: verifications of one key per minute above which `key.excessive_use` is raised.
    public var excessiveUsePerMinute: UInt32
    /// When an admin last changed the settings (Unix ms).
    public var updatedAt: Int64

    /// X2 bounds: 1 hour to 365 days.
    public static let maxExpiryRange: ClosedRange<UInt64> = 3_600...31_536_000
    /// X2 bounds: 0 to 1000 keys.
    public static let maxKeysRange: ClosedRange<UInt32> = 0...1_000
    /// X9: at least one verification per minute; at most ten million.
    public static let excessiveUseRange: ClosedRange<UInt32> = 1...10_000_000

    public init(
        apiKeysEnabled: Bool = false,
        maxExpirySeconds: UInt64 = 86_400,
        maxKeysPerUser: UInt32 = 5,
        excessiveUsePerMinute: UInt32 = 600,
        updatedAt: Int64 = 0
    ) {
        self.apiKeysEnabled = apiKeysEnabled
        self.maxExpirySeconds = maxExpirySeconds
        self.maxKeysPerUser = maxKeysPerUser
        self.excessiveUsePerMinute = excessiveUsePerMinute
        self.updatedAt = updatedAt
    }

    /// X2 defaults: disabled, 24 hours, 5 keys per user, 600 verifications per minute.
    public static func defaults(at time: Int64) -> TenantSettings {
        TenantSettings(updatedAt: time)
    }
}

/// A partial change of the settings: only the fields that are set change.
public struct SettingsUpdate: Sendable, Hashable {
    public var apiKeysEnabled: Bool?
    public var maxExpirySeconds: UInt64?
    public var maxKeysPerUser: UInt32?
    public var excessiveUsePerMinute: UInt32?

    public init(
        apiKeysEnabled: Bool? = nil,
        maxExpirySeconds: UInt64? = nil,
        maxKeysPerUser: UInt32? = nil,
        excessiveUsePerMinute: UInt32? = nil
    ) {
        self.apiKeysEnabled = apiKeysEnabled
        self.maxExpirySeconds = maxExpirySeconds
        self.maxKeysPerUser = maxKeysPerUser
        self.excessiveUsePerMinute = excessiveUsePerMinute
    }
}
