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
    /// At most ``maxDetailsBytes`` in all (X16): see ``bounded(_:)``.
    public var details: [String: String]
    /// X20: how many occurrences this event stands for: refusals of one actor with one action
    /// and reason are stored once per minute, with their count. 1 for everything else.
    public var count: UInt64

    public init(
        id: UInt64 = 0, time: Int64, tenantID: String, actor: String, action: String,
        keyID: String? = nil, outcome: Outcome = .success, details: [String: String] = [:], count: UInt64 = 1
    ) {
        self.id = id
        self.time = time
        self.tenantID = tenantID
        self.actor = actor
        self.action = action
        self.keyID = keyID
        self.outcome = outcome
        self.details = Self.bounded(details)
        self.count = count
    }

    /// X16: the most bytes an event's details take, keys and values together.
    public static let maxDetailsBytes = 4096

    /// `details` within ``maxDetailsBytes``: the longest values are cut (at a character
    /// boundary, ending in "…") until the whole fits. The inputs are bounded already; this
    /// keeps any path that forgot from writing megabytes per event.
    static func bounded(_ details: [String: String]) -> [String: String] {
        func size(_ d: [String: String]) -> Int { d.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count } }
        var total = size(details)
        guard total > maxDetailsBytes else { return details }
        var details = details
        let marker = "…"
        for key in details.keys.sorted(by: { details[$0]!.utf8.count > details[$1]!.utf8.count }) {
            guard total > maxDetailsBytes else { break }
            let value = details[key]!
            let keep = max(0, value.utf8.count - (total - maxDetailsBytes) - marker.utf8.count)
            let cut = Validation.prefix(value, bytes: keep) + marker
            total += cut.utf8.count - value.utf8.count
            details[key] = cut
        }
        if total > maxDetailsBytes {
            // Only the keys are left to blame: keep what fits.
            var kept: [String: String] = [:]
            var used = 0
            for (key, value) in details.sorted(by: { $0.key < $1.key }) where used + key.utf8.count + value.utf8.count <= maxDetailsBytes {
                kept[key] = value
                used += key.utf8.count + value.utf8.count
            }
            details = kept
        }
        return details
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
