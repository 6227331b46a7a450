/// X10: a record of a change or a refusal that a tenant admin can review (R9).
///
/// Never holds a secret (X7).
public struct Event: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        case success
        case denied
        case failure
    }

    /// Assigned by the store on insert; 0 before that.
    public var id: UInt64
    public var time: Int64
    public var tenantID: String
    /// "user:<id>", "service:<name>" or "operator".
    public var actor: String
    /// One of ``EventAction``.
    public var action: String
    public var keyID: String?
    public var outcome: Outcome
    public var details: [String: String]

    public init(
        id: UInt64 = 0, time: Int64, tenantID: String, actor: String, action: String,
        keyID: String? = nil, outcome: Outcome = .success, details: [String: String] = [:]
    ) {
        self.id = id
        self.time = time
        self.tenantID = tenantID
        self.actor = actor
        self.action = action
        self.keyID = keyID
        self.outcome = outcome
        self.details = details
    }
}

/// The event action names (X10). A refusal with PERMISSION_DENIED is `permission.denied`
/// (details: `operation`, `rule`, `reason`); any other refusal carries the action of the
/// attempted operation with outcome `denied` (a rule refused it) or `failure` (bad input, not found).
public enum EventAction {
    public static let keyGenerated = "key.generated"
    public static let keyRenamed = "key.renamed"
    public static let keyRevoked = "key.revoked"
    public static let keyDeleted = "key.deleted"
    public static let keyExpired = "key.expired"
    public static let keyVerifyFailed = "key.verify_failed"
    public static let keyExcessiveUse = "key.excessive_use"
    public static let settingsChanged = "settings.changed"
    public static let userCreated = "user.created"
    public static let userRoleAssigned = "user.role_assigned"
    public static let userRoleRemoved = "user.role_removed"
    public static let userLicenseChanged = "user.license_changed"
    public static let userRemoved = "user.removed"
    public static let tenantCreated = "tenant.created"
    public static let permissionDenied = "permission.denied"
    /// X18, in the operator's audit log (tenant ""): details name the credential's ID, kind,
    /// name, scope and tenants, and `via`; `credential.rotated` also `replaces`.
    public static let credentialCreated = "credential.created"
    public static let credentialRotated = "credential.rotated"
    public static let credentialRevoked = "credential.revoked"
}
