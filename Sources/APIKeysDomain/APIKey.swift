/// R8: a key's status, derived from its expiry and revocation at a given time.
public enum KeyStatus: String, Sendable, Hashable, CaseIterable {
    case active = "Active"
    case expired = "Expired"
    case revoked = "Revoked"

    /// The order used when sorting by status (R6): Active, Expired, Revoked.
    public var rank: Int64 {
        switch self {
        case .active: 0
        case .expired: 1
        case .revoked: 2
        }
    }
}

/// An API key as stored: the R6 columns, revocation, usage (X9) and the secret's hash (X7).
///
/// The secret itself is never kept; `secretHash` is its SHA-256.
public struct APIKey: Sendable, Hashable {
    /// `key_` + 20 lowercase base32 characters.
    public var id: String
    public var tenantID: String
    public var ownerID: String
    /// X12: 1 to 256 printable characters, trimmed.
    public var name: String
    public var createdAt: Int64
    /// Last change of the name or revocation; usage does not count as an update.
    public var updatedAt: Int64
    public var expiresAt: Int64
    /// R12: once set, never cleared.
    public var revokedAt: Int64?
    public var revokeReason: String
    public var secretHash: SecretHash
    public var lastUsedAt: Int64?
    public var useCount: UInt64
    /// X10: whether the `key.expired` event has been recorded (the first observation).
    public var expiryRecorded: Bool

    public init(
        id: String, tenantID: String, ownerID: String, name: String,
        createdAt: Int64, updatedAt: Int64, expiresAt: Int64,
        revokedAt: Int64? = nil, revokeReason: String = "",
        secretHash: SecretHash, lastUsedAt: Int64? = nil, useCount: UInt64 = 0,
        expiryRecorded: Bool = false
    ) {
        self.id = id
        self.tenantID = tenantID
        self.ownerID = ownerID
        self.name = name
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.revokeReason = revokeReason
        self.secretHash = secretHash
        self.lastUsedAt = lastUsedAt
        self.useCount = useCount
        self.expiryRecorded = expiryRecorded
    }

    /// R8: Revoked wins over Expired; a key is Expired from its expiry instant on.
    public func status(at time: Int64) -> KeyStatus {
        if revokedAt != nil { return .revoked }
        if time >= expiresAt { return .expired }
        return .active
    }
}
