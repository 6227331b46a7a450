import Synchronization

/// X18: the operator creates, lists, rotates and revokes service and operator credentials;
/// every change is an event in the operator's audit log (the events of tenant "").
extension APIKeyService {
    /// A credential just made, with its secret: returned once, never stored (X7).
    public struct IssuedCredential: Sendable {
        public var credential: Credential
        public var secret: String
    }

    /// Operator: a credential for an internal service with `scope`; for scope `act`,
    /// `tenants` limits the tenants it may act in (empty: every tenant).
    public func createServiceCredential(
        _ caller: Caller, name: String, scope: Credential.Scope, tenants: [String]
    ) throws(DomainError) -> IssuedCredential {
        try authorize(caller, .createServiceCredential)
        try Validation.serviceName(name)
        try Self.validateScope(scope, tenants: tenants)
        return try issue(caller, kind: .service, name: name, scope: scope, tenants: tenants)
    }

    /// Operator: a credential for a trusted internal service acting for users of any tenant.
    public func createServiceCredential(_ caller: Caller, name: String) throws(DomainError) -> (name: String, secret: String) {
        let issued = try createServiceCredential(caller, name: name, scope: .act, tenants: [])
        return (issued.credential.name, issued.secret)
    }

    /// Operator: a further operator credential (one per person, say), named in the audit log.
    public func createOperatorCredential(_ caller: Caller, name: String = "operator") throws(DomainError) -> IssuedCredential {
        try authorize(caller, .createOperatorCredential)
        try Validation.serviceName(name)
        return try issue(caller, kind: .operator, name: name, scope: .act, tenants: [])
    }

    /// Operator: every stored credential, then the configured ones; revoked ones included.
    public func listCredentials(_ caller: Caller) throws(DomainError) -> [Credential] {
        try authorize(caller, .listCredentials)
        let stored = try reading(caller, operation: Operation.listCredentials.rawValue) { try store.credentials() }
        return stored + configuredCredentials.withLock { $0 }
    }

    /// Operator: a new credential with the kind, name, scope and tenants of `id`, whose secret
    /// is returned once. Both stay valid until the old one is revoked, so a deployment can
    /// move to the new secret without a moment with none.
    public func rotateCredential(_ caller: Caller, id: String) throws(DomainError) -> (issued: IssuedCredential, replaced: Credential) {
        try authorize(caller, .rotateCredential)
        return try perform(caller, operation: EventAction.credentialRotated) { tx, changes in
            let old = try storedCredential(id, in: tx, changing: "rotated")
            guard old.revokedAt == nil else {
                throw DomainError(.failedPrecondition, "credential \(Validation.quoted(id)) is revoked; create a new one instead", rule: "X18", reason: "credential_revoked")
            }
            let issued = try issue(caller, kind: old.kind, name: old.name, scope: old.scope, tenants: old.tenants, replacing: old, in: tx, &changes)
            return (issued, old)
        }
    }

    /// Operator: `id` never authenticates again, from the next call on (also on the Verify
    /// path, whose cache drops on ``credentialsVersion``). The last active operator
    /// credential cannot be revoked, so the deployment stays manageable. Revoking a revoked
    /// credential changes nothing.
    public func revokeCredential(_ caller: Caller, id: String) throws(DomainError) -> Credential {
        try authorize(caller, .revokeCredential)
        let configuredOperators = configuredCredentials.withLock { $0.count { $0.kind == .operator } }
        return try perform(caller, operation: Operation.revokeCredential.rawValue) { tx, changes in
            var credential = try storedCredential(id, in: tx, changing: "revoked")
            guard credential.revokedAt == nil else { return credential }
            if credential.kind == .operator {
                let others = try tx.credentials().count { $0.kind == .operator && $0.revokedAt == nil && $0.id != id }
                guard others + configuredOperators > 0 else {
                    throw DomainError(.failedPrecondition, "\(credential.id) is the last active operator credential; create another one first", rule: "X18", reason: "last_operator_credential")
                }
            }
            let time = now
            try tx.revokeCredential(id: credential.id, at: time)
            credential.revokedAt = time
            try tx.insertEvent(event(caller, tenantID: "", action: EventAction.credentialRevoked, details: Self.auditDetails(credential), at: time))
            changes.append(.credential(credential))
            return credential
        }
    }

    /// Stores a new credential and its audit event in one transaction.
    private func issue(
        _ caller: Caller, kind: Credential.Kind, name: String, scope: Credential.Scope, tenants: [String]
    ) throws(DomainError) -> IssuedCredential {
        try perform(caller, operation: EventAction.credentialCreated) { tx, changes in
            try issue(caller, kind: kind, name: name, scope: scope, tenants: tenants, replacing: nil, in: tx, &changes)
        }
    }

    private func issue(
        _ caller: Caller, kind: Credential.Kind, name: String, scope: Credential.Scope, tenants: [String],
        replacing old: Credential?, in tx: any StoreTransaction, _ changes: inout [VerificationIndex.Change]
    ) throws -> IssuedCredential {
        let generated = SecretCodec.generate(kind == .operator ? .operator : .service)
        let time = now
        let credential = Credential(
            id: generated.id, kind: kind, name: name, secretHash: generated.hash, createdAt: time,
            scope: scope, tenants: tenants)
        try tx.insertCredential(credential)
        var details = Self.auditDetails(credential)
        if let old { details["replaces"] = old.id }
        let action = old == nil ? EventAction.credentialCreated : EventAction.credentialRotated
        try tx.insertEvent(event(caller, tenantID: "", action: action, details: details, at: time))
        changes.append(.credential(credential))
        return IssuedCredential(credential: credential, secret: generated.secret)
    }

    /// The stored credential `id`; configured ones live in the server's configuration.
    private func storedCredential(_ id: String, in reader: any StoreReader, changing verb: String) throws -> Credential {
        if configuredCredentials.withLock({ $0.contains { $0.id.isByteEqual(to: id) } }) {
            throw DomainError(.failedPrecondition, "credential \(Validation.quoted(id)) comes from the server's configuration and cannot be \(verb) here; change the credentials file and reload the server (SIGHUP)", rule: "X18", reason: "configured_credential")
        }
        guard let credential = try reader.credentials().first(where: { $0.id.isByteEqual(to: id) }) else {
            // The ID is not echoed: an operator may paste a secret where an ID belongs (X19).
            throw DomainError.notFound("no credential has this ID; see ListCredentials", rule: "X18", reason: "credential_not_found")
        }
        return credential
    }

    /// What the audit log says of a credential: never its secret or hash.
    static func auditDetails(_ credential: Credential) -> [String: String] {
        var details = [
            "credential": credential.id, "kind": credential.kind.rawValue, "name": credential.name,
            "scope": credential.scope.rawValue, "rule": "X18",
        ]
        if !credential.tenants.isEmpty { details["tenants"] = credential.tenants.joined(separator: ",") }
        return details
    }

    /// X18: tenants only narrow the scope `act`; each is a valid tenant ID, listed once.
    static func validateScope(_ scope: Credential.Scope, tenants: [String]) throws(DomainError) {
        guard scope == .act || tenants.isEmpty else {
            throw .invalidArgument("tenants limit a credential of scope act; a verify credential acts in no tenant", rule: "X18", reason: "tenants_without_act")
        }
        for tenant in tenants { try Validation.tenantID(tenant) }
        guard Set(tenants).count == tenants.count else {
            throw .invalidArgument("a tenant is listed twice", rule: "X18", reason: "duplicate_tenant")
        }
    }
}
