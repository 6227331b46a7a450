/// X13: turning request metadata into a ``Caller`` and checking a ``Requirement``.
extension APIKeyService {
    /// Resolves the `authorization` metadata value (`Bearer <api key>`, `Service <credential>`,
    /// `Operator <credential>`) and, for a service acting for a user, `x-tenant-id` and
    /// `x-user-id`. Throws UNAUTHENTICATED when the credential does not authenticate.
    ///
    /// A Bearer key must currently authenticate (X8: active, tenant enabled) and counts as a use (X9).
    /// Reads only memory: never waits on the store.
    ///
    /// `certificateService` is the service the connection itself authenticated as (the
    /// server maps a verified client certificate to a configured service name). With no
    /// `authorization` the call acts as that service, exactly as with a `Service` credential;
    /// an `authorization` value, when sent, wins.
    public func resolveCaller(authorization: String?, tenantID: String?, userID: String?,
                              certificateService: String? = nil) throws(DomainError) -> Caller {
        let tenantID = tenantID.flatMap { $0.isEmpty ? nil : $0 }
        let userID = userID.flatMap { $0.isEmpty ? nil : $0 }
        guard let authorization, !authorization.isEmpty else {
            if let certificateService {
                return try serviceCaller(name: certificateService, tenantID: tenantID, userID: userID)
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
                if let tenantID, tenantID != principal.tenantID {
                    throw .unauthenticated("x-tenant-id does not match the API key's tenant", reason: "tenant_mismatch")
                }
                if let userID, userID != principal.userID {
                    throw .unauthenticated("x-user-id does not match the API key's owner", reason: "user_mismatch")
                }
                return .member(Caller.Member(tenantID: principal.tenantID, userID: principal.userID, via: .apiKey(keyID: principal.keyID)))
            }
        case "service":
            guard let found = SecretCodec.parse(credential, as: .service).flatMap(index.credential(for:))
                ?? configuredCredential(credential, kind: .service) else {
                throw .unauthenticated("the service credential is not recognised", reason: "unknown_credential")
            }
            return try serviceCaller(name: found.name, tenantID: tenantID, userID: userID)
        case "operator":
            guard SecretCodec.parse(credential, as: .operator).flatMap(index.credential(for:))
                ?? configuredCredential(credential, kind: .operator) != nil else {
                throw .unauthenticated("the operator credential is not recognised", reason: "unknown_credential")
            }
            return .operator
        default:
            throw .unauthenticated("unsupported authorization scheme \"\(parts[0])\": use Bearer, Service or Operator", reason: "unsupported_scheme")
        }
    }

    /// An authenticated service, acting for itself or, with both IDs, for that user.
    private func serviceCaller(name: String, tenantID: String?, userID: String?) throws(DomainError) -> Caller {
        switch (tenantID, userID) {
        case (nil, nil):
            return .service(name: name)
        case (let tenantID?, let userID?):
            guard index.user(tenantID: tenantID, userID: userID) != nil else {
                throw .unauthenticated("user \"\(userID)\" does not exist in tenant \"\(tenantID)\"", reason: "unknown_user")
            }
            return .member(Caller.Member(tenantID: tenantID, userID: userID, via: .service(name: name)))
        default:
            throw .unauthenticated("a service acting for a user must send both x-tenant-id and x-user-id", reason: "incomplete_identity")
        }
    }

    /// Checks `requirement` against the caller's roles and license as they are now (X13).
    /// On refusal throws PERMISSION_DENIED saying what is missing and records a
    /// `permission.denied` event in the caller's tenant (X10). Returns the member's current
    /// directory entry, or nil for the operator and services.
    @discardableResult
    public func authorize(_ caller: Caller, _ requirement: Requirement, operation: String = "") throws(DomainError) -> User? {
        do {
            return try check(caller, requirement)
        } catch {
            recordRefusal(error, caller: caller, operation: operation, tenantID: nil, keyID: nil)
            throw error
        }
    }

    /// ``authorize(_:_:operation:)`` without the event, for a caller that must not write to
    /// the store here (the Verify hot path records refusals elsewhere).
    public func check(_ caller: Caller, _ requirement: Requirement) throws(DomainError) -> User? {
        switch requirement {
        case .none:
            if case .member(let member) = caller { return index.user(tenantID: member.tenantID, userID: member.userID) }
            return nil
        case .operator:
            guard case .operator = caller else {
                throw .permissionDenied("this call needs the operator credential", rule: "X13", reason: "not_operator")
            }
            return nil
        case .service:
            if case .service = caller { return nil }
            if case .member(let m) = caller, case .service = m.via { return nil }
            throw .permissionDenied("this call needs a service credential", rule: "X8", reason: "not_service")
        case .member, .tenantAdmin, .developer, .licensedDeveloper:
            let user = try currentUser(caller)
            switch requirement {
            case .tenantAdmin where !user.isTenantAdmin:
                throw .permissionDenied("this call needs the TenantAdmin role, which user \"\(user.userID)\" does not have", rule: "R3", reason: "not_tenant_admin")
            case .developer where !user.isDeveloper:
                throw .permissionDenied("this call needs the Developer role, which user \"\(user.userID)\" does not have", rule: "R4", reason: "not_developer")
            case .licensedDeveloper where !user.licensed:
                throw .permissionDenied("user \"\(user.userID)\" has no license", rule: "R17", reason: "no_license")
            case .licensedDeveloper where !user.isDeveloper:
                throw .permissionDenied("this call needs the Developer role, which user \"\(user.userID)\" does not have", rule: "R4", reason: "not_developer")
            default:
                return user
            }
        }
    }

    /// The member behind `caller` as the directory has them now.
    func currentUser(_ caller: Caller) throws(DomainError) -> User {
        let member = try member(caller)
        guard let user = index.user(tenantID: member.tenantID, userID: member.userID) else {
            throw .unauthenticated("user \"\(member.userID)\" no longer exists in tenant \"\(member.tenantID)\"", reason: "unknown_user")
        }
        return user
    }

    /// The member behind `caller`, for operations that act in a tenant.
    func member(_ caller: Caller) throws(DomainError) -> Caller.Member {
        if case .member(let member) = caller { return member }
        let message = if case .service = caller {
            "this call acts for a user: a service must send x-tenant-id and x-user-id"
        } else {
            "this call acts for a user of a tenant, not for the operator"
        }
        throw .permissionDenied(message, rule: "X13", reason: "not_a_user")
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
