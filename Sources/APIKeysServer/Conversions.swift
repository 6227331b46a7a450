import APIKeysDomain
import APIKeysWire

// Domain values to and from the wire messages of proto/apikeys/v1.

extension RPCError {
    /// A domain refusal keeps its code and message; the rule and reason travel as APIKeysV1.ErrorDetails.
    init(_ error: DomainError) {
        self.init(code: StatusCode(rawValue: Int32(error.code.rawValue)), message: error.message,
                  rule: error.rule, reason: error.reason)
    }
}

extension APIKeysV1.Tenant {
    init(_ tenant: Tenant) {
        self.init(id: tenant.id, name: tenant.name, createdAtMs: tenant.createdAt)
    }
}

extension APIKeysV1.User {
    init(_ user: User) {
        self.init(tenantID: user.tenantID, userID: user.userID, displayName: user.displayName,
                  roles: user.roles.sorted().map(APIKeysV1.Role.init), licensed: user.licensed,
                  createdAtMs: user.createdAt)
    }
}

extension APIKeysV1.Role {
    init(_ role: Role) {
        switch role {
        case .developer: self = .developer
        case .tenantAdmin: self = .tenantAdmin
        }
    }
}

extension Role {
    init(_ role: APIKeysV1.Role) throws(DomainError) {
        switch role {
        case .developer: self = .developer
        case .tenantAdmin: self = .tenantAdmin
        case .unspecified:
            throw DomainError(.invalidArgument, "the role must be ROLE_DEVELOPER or ROLE_TENANT_ADMIN", rule: "R5", reason: "invalid_role")
        }
    }
}

extension APIKeysV1.TenantSettings {
    init(_ settings: TenantSettings) {
        self.init(apiKeysEnabled: settings.apiKeysEnabled, maxExpirySeconds: settings.maxExpirySeconds,
                  maxKeysPerUser: settings.maxKeysPerUser, excessiveUsePerMinute: settings.excessiveUsePerMinute,
                  updatedAtMs: settings.updatedAt)
    }
}

extension APIKeysV1.ApiKey {
    /// R6's columns; the status as of `now` (R8).
    init(_ key: APIKey, at now: Int64) {
        self.init(id: key.id, name: key.name, ownerID: key.ownerID, updatedAtMs: key.updatedAt,
                  createdAtMs: key.createdAt, expiresAtMs: key.expiresAt,
                  status: APIKeysV1.KeyStatus(key.status(at: now)), revokedAtMs: key.revokedAt ?? 0,
                  lastUsedAtMs: key.lastUsedAt ?? 0, useCount: key.useCount, tenantID: key.tenantID)
    }
}

extension APIKeysV1.KeyStatus {
    init(_ status: KeyStatus) {
        switch status {
        case .active: self = .active
        case .expired: self = .expired
        case .revoked: self = .revoked
        }
    }
}

extension KeyStatus {
    /// A list filter: unspecified means any status.
    init?(filter: APIKeysV1.KeyStatus) throws(DomainError) {
        switch filter {
        case .unspecified: return nil
        case .active: self = .active
        case .expired: self = .expired
        case .revoked: self = .revoked
        }
    }
}

extension KeySortField {
    init(_ field: APIKeysV1.KeySortField) {
        switch field {
        case .unspecified, .created: self = .created
        case .name: self = .name
        case .id: self = .id
        case .owner: self = .owner
        case .updated: self = .updated
        case .expires: self = .expires
        case .status: self = .status
        }
    }
}

extension APIKeysV1.RevokeKeyResult {
    init(_ result: RevokeResult) {
        let outcome: APIKeysV1.RevokeOutcome
        switch result.outcome {
        case .revoked: outcome = .revoked
        case .notFound: outcome = .notFound
        case .notActive: outcome = .notActive
        case .permissionDenied: outcome = .permissionDenied
        }
        self.init(keyID: result.keyID, outcome: outcome, message: result.message)
    }
}

extension APIKeysV1.Event {
    init(_ event: Event) {
        self.init(id: event.id, timeMs: event.time, tenantID: event.tenantID, actor: event.actor,
                  action: event.action, keyID: event.keyID ?? "", outcome: event.outcome.rawValue,
                  details: event.details, count: event.count)
    }
}

extension APIKeysV1.Principal {
    init(_ principal: Principal) {
        self.init(tenantID: principal.tenantID, userID: principal.userID, keyID: principal.keyID,
                  roles: principal.roles, expiresAtMs: principal.expiresAt)
    }
}

extension APIKeysV1.CredentialInfo {
    /// X18: what the operator sees of a credential; never its secret or hash.
    init(_ credential: Credential) {
        self.init(
            id: credential.id, kind: credential.kind == .operator ? .operator : .service, name: credential.name,
            scope: credential.scope == .verify ? .verify : .act, tenants: credential.tenants,
            createdAtMs: credential.createdAt, revokedAtMs: credential.revokedAt ?? 0,
            configured: credential.isConfigured)
    }
}

extension Credential.Scope {
    /// UNSPECIFIED is ACT: what a service credential could do before scopes existed.
    init(_ scope: APIKeysV1.CredentialScope) {
        self = scope == .verify ? .verify : .act
    }
}
