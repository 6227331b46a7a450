import APIKeysDomain
import APIKeysWire

// Domain values to and from the wire messages of proto/apikeys/v1.

extension RPCError {
    /// A domain refusal keeps its code and message; the rule and reason travel as ErrorDetails.
    init(_ error: DomainError) {
        self.init(code: StatusCode(rawValue: Int32(error.code.rawValue)), message: error.message,
                  rule: error.rule, reason: error.reason)
    }
}

extension APIKeysWire.Tenant {
    init(_ tenant: APIKeysDomain.Tenant) {
        self.init(id: tenant.id, name: tenant.name, createdAtMs: tenant.createdAt)
    }
}

extension APIKeysWire.User {
    init(_ user: APIKeysDomain.User) {
        self.init(tenantID: user.tenantID, userID: user.userID, displayName: user.displayName,
                  roles: user.roles.sorted().map(APIKeysWire.Role.init), licensed: user.licensed,
                  createdAtMs: user.createdAt)
    }
}

extension APIKeysWire.Role {
    init(_ role: APIKeysDomain.Role) {
        switch role {
        case .developer: self = .developer
        case .tenantAdmin: self = .tenantAdmin
        }
    }
}

extension APIKeysDomain.Role {
    init(_ role: APIKeysWire.Role) throws(DomainError) {
        switch role {
        case .developer: self = .developer
        case .tenantAdmin: self = .tenantAdmin
        case .unspecified:
            throw DomainError(.invalidArgument, "the role must be ROLE_DEVELOPER or ROLE_TENANT_ADMIN", rule: "R5", reason: "invalid_role")
        }
    }
}

extension APIKeysWire.TenantSettings {
    init(_ settings: APIKeysDomain.TenantSettings) {
        self.init(apiKeysEnabled: settings.apiKeysEnabled, maxExpirySeconds: settings.maxExpirySeconds,
                  maxKeysPerUser: settings.maxKeysPerUser, excessiveUsePerMinute: settings.excessiveUsePerMinute,
                  updatedAtMs: settings.updatedAt)
    }
}

extension ApiKey {
    /// R6's columns; the status as of `now` (R8).
    init(_ key: APIKey, at now: Int64) {
        self.init(id: key.id, name: key.name, ownerID: key.ownerID, updatedAtMs: key.updatedAt,
                  createdAtMs: key.createdAt, expiresAtMs: key.expiresAt,
                  status: APIKeysWire.KeyStatus(key.status(at: now)), revokedAtMs: key.revokedAt ?? 0,
                  lastUsedAtMs: key.lastUsedAt ?? 0, useCount: key.useCount, tenantID: key.tenantID)
    }
}

extension APIKeysWire.KeyStatus {
    init(_ status: APIKeysDomain.KeyStatus) {
        switch status {
        case .active: self = .active
        case .expired: self = .expired
        case .revoked: self = .revoked
        }
    }
}

extension APIKeysDomain.KeyStatus {
    /// A list filter: unspecified means any status.
    init?(filter: APIKeysWire.KeyStatus) throws(DomainError) {
        switch filter {
        case .unspecified: return nil
        case .active: self = .active
        case .expired: self = .expired
        case .revoked: self = .revoked
        }
    }
}

extension APIKeysDomain.KeySortField {
    init(_ field: APIKeysWire.KeySortField) {
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

extension RevokeKeyResult {
    init(_ result: RevokeResult) {
        let outcome: RevokeOutcome
        switch result.outcome {
        case .revoked: outcome = .revoked
        case .notFound: outcome = .notFound
        case .notActive: outcome = .notActive
        case .permissionDenied: outcome = .permissionDenied
        }
        self.init(keyID: result.keyID, outcome: outcome, message: result.message)
    }
}

extension APIKeysWire.Event {
    init(_ event: APIKeysDomain.Event) {
        self.init(id: event.id, timeMs: event.time, tenantID: event.tenantID, actor: event.actor,
                  action: event.action, keyID: event.keyID ?? "", outcome: event.outcome.rawValue,
                  details: event.details, count: event.count)
    }
}

extension APIKeysWire.Principal {
    init(_ principal: APIKeysDomain.Principal) {
        self.init(tenantID: principal.tenantID, userID: principal.userID, keyID: principal.keyID,
                  roles: principal.roles, expiresAtMs: principal.expiresAt)
    }
}

extension CredentialInfo {
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
    init(_ scope: CredentialScope) {
        self = scope == .verify ? .verify : .act
    }
}
