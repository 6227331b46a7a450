/// X13, X17, X18: turning request metadata into a ``Caller`` and checking what it may do.
extension APIKeyService {
    /// Resolves the `authorization` metadata value (`Bearer <api key>`, `Service <credential>`,
    /// `Operator <credential>`) and, for a service acting for a user, `x-tenant-id` and
    /// `x-user-id`. Throws UNAUTHENTICATED when the credential does not authenticate.
    ///
    /// A Bearer key must currently authenticate (X8: active, tenant enabled) and counts as a use (X9).
    /// Reads only memory: never waits on the store.
    ///
    /// `certificateService` is the service the connection itself authenticated as (the
    /// server maps a verified client certificate to a configured service). With no
    /// `authorization` the call acts as that service, exactly as with a `Service` credential;
    /// an `authorization` value, when sent, wins.
    public func resolveCaller(authorization: String?, tenantID: String?, userID: String?,
                              certificateService: ServiceIdentity? = nil) throws(DomainError) -> Caller {
        // X15, X16, X19: identifiers from metadata are checked before anything looks them up
        // or quotes them in a refusal.
        try Validation.actingIdentity(tenantID: tenantID, userID: userID)
        let tenantID = tenantID.flatMap { $0.isEmpty ? nil : $0 }
        let userID = userID.flatMap { $0.isEmpty ? nil : $0 }
        guard let authorization, !authorization.isEmpty else {
            if let certificateService {
                return try serviceCaller(certificateService, tenantID: tenantID, userID: userID)
            }
            throw .unauthenticated("no authorization metadata: send \"Bearer <api key>\", \"Service <credential>\" or \"Operator <credential>\"", reason: "missing_credentials")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2 else {
            throw .unauthenticated("the authorization metadata must be \"<scheme> <credential>\"", reason: "malformed_credentials")
        }
        let credential = String(parts[1]).trimmingSpaces
        switch parts[0].lowercased() {
        case "bearer":
            guard let parsed = SecretCodec.parse(credential, as: .apiKey) else { throw VerifyFailure.unknown.error }
            switch index.verify(parsed, now: now, actor: "bearer") {
            case .failure(let failure):
                throw failure.error
            case .success(let principal):
                if let tenantID, !tenantID.isByteEqual(to: principal.tenantID) {
                    throw .unauthenticated("x-tenant-id does not match the API key's tenant", reason: "tenant_mismatch")
                }
                if let userID, !userID.isByteEqual(to: principal.userID) {
                    throw .unauthenticated("x-user-id does not match the API key's owner", reason: "user_mismatch")
                }
                return .member(Caller.Member(tenantID: principal.tenantID, userID: principal.userID, via: .apiKey(keyID: principal.keyID)))
            }
        case "service":
            guard let found = SecretCodec.parse(credential, as: .service).flatMap(index.credential(for:))
                ?? configuredCredential(credential, kind: .service) else {
                throw .unauthenticated("the service credential is not recognised", reason: "unknown_credential")
            }
            return try serviceCaller(found.serviceIdentity, tenantID: tenantID, userID: userID)
        case "operator":
            guard let found = SecretCodec.parse(credential, as: .operator).flatMap(index.credential(for:))
                ?? configuredCredential(credential, kind: .operator) else {
                throw .unauthenticated("the operator credential is not recognised", reason: "unknown_credential")
            }
            return .operatorCredential(id: found.id)
        default:
            throw .unauthenticated("unsupported authorization scheme \(Validation.quoted(String(parts[0]))): use Bearer, Service or Operator", reason: "unsupported_scheme")
        }
    }

    /// An authenticated service, acting for itself or, with both IDs, for that user (X18:
    /// only with scope `act`, and only in its tenants).
    private func serviceCaller(_ service: ServiceIdentity, tenantID: String?, userID: String?) throws(DomainError) -> Caller {
        switch (tenantID, userID) {
        case (nil, nil):
            return .service(service)
        case (let tenantID?, let userID?):
            guard service.scope == .act else {
                throw .permissionDenied("service \(Validation.quoted(service.name)) has scope verify: it may verify keys but not act for users", rule: "X18", reason: "scope_verify_only")
            }
            guard service.mayAct(in: tenantID) else {
                throw .permissionDenied("service \(Validation.quoted(service.name)) may not act in this tenant", rule: "X18", reason: "tenant_not_in_scope")
            }
            guard index.user(tenantID: tenantID, userID: userID) != nil else {
                throw .unauthenticated("that user does not exist in that tenant", reason: "unknown_user")
            }
            return .member(Caller.Member(tenantID: tenantID, userID: userID, via: .service(service)))
        default:
            throw .unauthenticated("a service acting for a user must send both x-tenant-id and x-user-id", reason: "incomplete_identity")
        }
    }

    /// Checks the caller against `operation`'s requirement with the directory as it is now
    /// (X13). On refusal throws it and records it as an event (X10). Returns the member's
    /// current directory entry, or nil for the operator and services.
    @discardableResult
    public func authorize(_ caller: Caller, _ operation: Operation) throws(DomainError) -> User? {
        do {
            return try check(caller, operation.requirement)
        } catch {
            recordRefusal(error, caller: caller, operation: operation.refusalAction, tenantID: nil, keyID: nil)
            throw error
        }
    }

    /// ``AccessPolicy/decide(_:caller:user:apiKeysEnabled:)`` on the directory as the index has it,
    /// without recording a refusal (the Verify hot path records refusals elsewhere).
    public func check(_ caller: Caller, _ requirement: Requirement) throws(DomainError) -> User? {
        var user: User?
        var enabled: Bool?
        if case .member(let member) = caller {
            user = index.user(tenantID: member.tenantID, userID: member.userID)
            if requirement == .generator { enabled = index.apiKeysEnabled(tenantID: member.tenantID) }
        }
        if let refusal = AccessPolicy.decide(requirement, caller: caller, user: user, apiKeysEnabled: enabled) {
            throw refusal
        }
        return user
    }

    /// The same decision inside a transaction, on what the transaction reads.
    func check(_ caller: Caller, _ requirement: Requirement, in tx: any StoreReader) throws -> User? {
        var user: User?
        var enabled: Bool?
        if case .member(let member) = caller {
            user = try tx.user(tenantID: member.tenantID, userID: member.userID)
            if requirement == .generator { enabled = try tx.tenant(id: member.tenantID)?.settings.apiKeysEnabled }
        }
        if let refusal = AccessPolicy.decide(requirement, caller: caller, user: user, apiKeysEnabled: enabled) {
            throw refusal
        }
        return user
    }

    /// X21: a write re-reads the credential its caller authenticated with, in its own
    /// transaction. The caller was resolved from this server's index, which learns of a
    /// revocation made through another server a moment later; the database knows at once, so
    /// a revoked API key or credential can never write, on any server. (Reads and Verify
    /// follow the index: they see a revocation within the propagation bound.)
    func credentialIsCurrent(_ caller: Caller, in tx: any StoreReader) throws {
        switch caller {
        case .member(let member):
            switch member.via {
            case .apiKey(let keyID):
                guard let key = try tx.key(id: keyID), key.tenantID.isByteEqual(to: member.tenantID),
                      key.ownerID.isByteEqual(to: member.userID)
                else { throw VerifyFailure.unknown.error }
                switch key.status(at: now) {
                case .active: return
                case .revoked: throw VerifyFailure.revoked.error
                case .expired: throw VerifyFailure.expired.error
                }
            case .service(let service):
                try storedCredentialIsCurrent(id: service.credentialID, kind: "service", in: tx)
            }
        case .service(let service):
            try storedCredentialIsCurrent(id: service.credentialID, kind: "service", in: tx)
        case .operatorCredential(let id):
            try storedCredentialIsCurrent(id: id, kind: "operator", in: tx)
        }
    }

    /// Configured and certificate credentials are not stored: only a stored one can be revoked.
    private func storedCredentialIsCurrent(id: String, kind: String, in tx: any StoreReader) throws {
        guard let stored = try tx.credential(id: id), stored.revokedAt != nil else { return }
        throw DomainError.unauthenticated("the \(kind) credential is not recognised", reason: "unknown_credential")
    }

    /// The member behind `caller`, for operations that act in a tenant.
    func member(_ caller: Caller) throws(DomainError) -> Caller.Member {
        if case .member(let member) = caller { return member }
        throw AccessPolicy.decide(.member, caller: caller, user: nil, apiKeysEnabled: nil)!
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
