/// What a call needs of its caller. ``AccessPolicy/decide(_:caller:user:apiKeysEnabled:)`` is the one
/// function that judges every requirement: the domain calls it in front of each operation
/// (with the directory as the index has it) and again inside a transaction when the
/// decision depends on what the transaction reads, so a refusal has the same status, rule
/// and message whichever check makes it.
public enum Requirement: Sendable, Hashable {
    /// The operator credential: tenants, users, credentials, the operator's audit log.
    case `operator`
    /// A service credential of either scope, acting for a user or not (Verify, X8, X18).
    case verifier
    /// Any user of a tenant, also by their own API key (reads; the key actions below).
    case member
    /// R3: a TenantAdmin reading the tenant's settings, users or events; also by API key (X17).
    case tenantAdmin
    /// R3, R5, R14: a TenantAdmin changing settings, roles or licenses; never by API key (X17).
    case tenantAdminChange
    /// R4, R17, X17: generating a key. Checked in this order, each with its own message:
    /// not by API key (X17), a license (R17), API keys enabled (R17, X4), the Developer role (R4).
    case generator
    /// A tenant admin's event list, or the operator's audit log (X18).
    case eventReader
    /// Reading a key of `owner`: the owner or a TenantAdmin (X11).
    case keyReader(owner: String)
    /// R19: renaming a key of `owner`: only the owner.
    case keyRenamer(owner: String)
    /// X5, R3: revoking a key of `owner`: the owner or a TenantAdmin.
    case keyRevoker(owner: String)
    /// R13, R4: deleting a key of `owner`: the owner (an admin is told to revoke it instead),
    /// who holds the Developer role.
    case keyDeleter(owner: String)
    /// Reading user `userID`: themselves or a TenantAdmin.
    case userReader(userID: String)
}

/// Every operation of the service, the requirement in front of it and the name its refusals
/// carry in events (X10). The server maps each RPC method to one of these.
public enum Operation: String, Sendable, Hashable, CaseIterable {
    case createTenant = "tenant.create"
    case createUser = "user.create"
    case removeUser = "user.remove"
    case createServiceCredential = "credential.create"
    case createOperatorCredential = "credential.create_operator"
    case listCredentials = "credential.list"
    case rotateCredential = "credential.rotate"
    case revokeCredential = "credential.revoke"
    case assignRole = "user.role_assign"
    case removeRole = "user.role_remove"
    case setLicense = "user.license_set"
    case getUser = "user.get"
    case listUsers = "user.list"
    case getSettings = "settings.get"
    case updateSettings = "settings.update"
    case generateKey = "key.generate"
    case listKeys = "key.list"
    case getKey = "key.get"
    case renameKey = "key.rename"
    case revokeKey = "key.revoke"
    case revokeKeys = "key.revoke_many"
    case deleteKey = "key.delete"
    case listEvents = "event.list"
    case verify = "key.verify"

    /// What the caller must be before the operation reads anything (the object-level rules,
    /// e.g. ownership, follow inside the operation through the same ``AccessPolicy``).
    public var requirement: Requirement {
        switch self {
        case .createTenant, .createUser, .removeUser, .createServiceCredential: .operator
        case .createOperatorCredential, .listCredentials, .rotateCredential, .revokeCredential: .operator
        case .assignRole, .removeRole, .setLicense, .updateSettings: .tenantAdminChange
        case .listUsers, .getSettings: .tenantAdmin
        case .getUser, .listKeys, .getKey, .renameKey, .revokeKey, .revokeKeys, .deleteKey: .member
        case .generateKey: .generator
        case .listEvents: .eventReader
        case .verify: .verifier
        }
    }

    /// The action of the event that records a refusal other than PERMISSION_DENIED (X10).
    var refusalAction: String {
        switch self {
        case .generateKey: EventAction.keyGenerated
        case .renameKey: EventAction.keyRenamed
        case .revokeKey, .revokeKeys: EventAction.keyRevoked
        case .deleteKey: EventAction.keyDeleted
        case .updateSettings: EventAction.settingsChanged
        case .assignRole: EventAction.userRoleAssigned
        case .removeRole: EventAction.userRoleRemoved
        case .setLicense: EventAction.userLicenseChanged
        case .createUser: EventAction.userCreated
        case .removeUser: EventAction.userRemoved
        case .createTenant: EventAction.tenantCreated
        default: rawValue
        }
    }
}

/// The access rules of R3–R5, R13, R17, R19, X5, X8, X11, X13, X17 and X18 as one pure function.
public enum AccessPolicy {
    /// Nil when `caller` meets `requirement`, else the refusal. `user` is the member's
    /// directory entry and `apiKeysEnabled` their tenant's setting (R14), as the deciding
    /// check reads them; nil for the operator and for a service acting for nobody.
    public static func decide(
        _ requirement: Requirement, caller: Caller, user: User?, apiKeysEnabled: Bool?
    ) -> DomainError? {
        switch requirement {
        case .operator:
            if case .operatorCredential = caller { return nil }
            return .permissionDenied("this call needs the operator credential", rule: "X13", reason: "not_operator")
        case .verifier:
            switch caller {
            case .service: return nil
            case .member(let m): if case .service = m.via { return nil }
            case .operatorCredential: break
            }
            return .permissionDenied("this call needs a service credential", rule: "X8", reason: "not_service")
        case .eventReader:
            if case .operatorCredential = caller { return nil }
            return decide(.tenantAdmin, caller: caller, user: user, apiKeysEnabled: apiKeysEnabled)
        default:
            break
        }
        guard case .member(let member) = caller else {
            let message = if case .service = caller {
                "this call acts for a user: a service must send x-tenant-id and x-user-id"
            } else {
                "this call acts for a user of a tenant, not for the operator"
            }
            return .permissionDenied(message, rule: "X13", reason: "not_a_user")
        }
        guard let user else {
            return .unauthenticated("user \(Validation.quoted(member.userID)) no longer exists in this tenant", reason: "unknown_user")
        }
        let byKey: Bool = if case .apiKey = member.via { true } else { false }
        let name = Validation.quoted(user.userID)
        switch requirement {
        case .member:
            return nil
        case .tenantAdmin, .tenantAdminChange:
            if requirement == .tenantAdminChange, byKey {
                return .permissionDenied("an API key cannot change settings, roles or licenses; sign in through the console (a service acting for you)", rule: "X17", reason: "api_key_not_allowed")
            }
            guard user.isTenantAdmin else {
                return .permissionDenied("this call needs the TenantAdmin role, which user \(name) does not have", rule: "R3", reason: "not_tenant_admin")
            }
            return nil
        case .generator:
            if byKey {
                return .permissionDenied("an API key cannot generate keys; sign in through the console (a service acting for you)", rule: "X17", reason: "api_key_not_allowed")
            }
            guard user.licensed else {
                return .permissionDenied("generating a key needs a license; user \(name) has none", rule: "R17", reason: "no_license")
            }
            guard apiKeysEnabled == true else {
                return DomainError(.failedPrecondition, "API keys are disabled in this tenant; a tenant admin must enable them first", rule: "R17", reason: "api_keys_disabled")
            }
            guard user.isDeveloper else {
                return .permissionDenied("generating a key needs the Developer role; user \(name) does not have it", rule: "R4", reason: "not_developer")
            }
            return nil
        case .keyReader(let owner):
            guard owner.isByteEqual(to: user.userID) || user.isTenantAdmin else {
                return .permissionDenied("only the key's owner or a tenant admin can read this key", rule: "X11", reason: "not_owner")
            }
            return nil
        case .keyRenamer(let owner):
            guard owner.isByteEqual(to: user.userID) else {
                return .permissionDenied("only the key's owner can rename this key", rule: "R19", reason: "not_owner")
            }
            return nil
        case .keyRevoker(let owner):
            guard owner.isByteEqual(to: user.userID) || user.isTenantAdmin else {
                return .permissionDenied("only the key's owner or a tenant admin can revoke this key", rule: "X5", reason: "not_owner")
            }
            return nil
        case .keyDeleter(let owner):
            guard owner.isByteEqual(to: user.userID) else {
                let message = user.isTenantAdmin
                    ? "a tenant admin cannot delete another user's key; revoke it instead"
                    : "only the key's owner can delete this key"
                return .permissionDenied(message, rule: "R13", reason: "not_owner")
            }
            guard user.isDeveloper else {
                return .permissionDenied("deleting a key needs the Developer role; user \(name) does not have it", rule: "R4", reason: "not_developer")
            }
            return nil
        case .userReader(let userID):
            guard userID.isByteEqual(to: user.userID) || user.isTenantAdmin else {
                return .permissionDenied("only a tenant admin can read another user", rule: "R3", reason: "not_tenant_admin")
            }
            return nil
        case .operator, .verifier, .eventReader:
            return nil  // decided above
        }
    }
}
