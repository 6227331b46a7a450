/// X13: who is calling, resolved from the `authorization` metadata (and `x-tenant-id`,
/// `x-user-id` for a service acting for a user) by ``APIKeyService/resolveCaller(authorization:tenantID:userID:certificateService:)``.
///
/// Carries identity only: roles and license are read from the directory at each call.
public enum Caller: Sendable, Hashable {
    /// The operator, by the credential with this ID (X18): tenants, users and credentials.
    case operatorCredential(id: String)
    /// A service acting for nobody: may only verify keys (X8).
    case service(ServiceIdentity)
    /// A user of a tenant, by their own API key or through a trusted service.
    case member(Member)

    /// The operator by an unnamed credential (tests, and the server acting for itself).
    public static var `operator`: Caller { .operatorCredential(id: "operator") }

    /// A user of a tenant and how they reached us.
    public struct Member: Sendable, Hashable {
        public var tenantID: String
        public var userID: String
        public var via: Via

        public init(tenantID: String, userID: String, via: Via) {
            self.tenantID = tenantID
            self.userID = userID
            self.via = via
        }
    }

    /// How a member authenticated.
    public enum Via: Sendable, Hashable {
        /// `authorization: Bearer <api key>`: the user's own key (X17: reads and its owner's
        /// own keys only, never generating keys or changing the directory or settings).
        case apiKey(keyID: String)
        /// `authorization: Service <credential>` (or a client certificate) with `x-tenant-id` and `x-user-id`.
        case service(ServiceIdentity)
    }

    /// The actor name in events: "user:<id>", "service:<name>" or "operator".
    public var actor: String {
        switch self {
        case .operatorCredential: "operator"
        case .service(let service): "service:\(service.name)"
        case .member(let m): "user:\(m.userID)"
        }
    }

    /// The tenant the caller acts in, if any.
    public var tenantID: String? {
        if case .member(let m) = self { return m.tenantID }
        return nil
    }

    /// X17: how the actor came in, for every event: "service:<name>", "key:<key ID>" or
    /// "operator:<credential ID>".
    public var via: String {
        switch self {
        case .operatorCredential(let id): "operator:\(id)"
        case .service(let service): "service:\(service.name)"
        case .member(let m):
            switch m.via {
            case .apiKey(let keyID): "key:\(keyID)"
            case .service(let service): "service:\(service.name)"
            }
        }
    }

    /// The details every event of this caller carries (X17); for a service also the
    /// credential it used, so an audit tells a rotated-away secret from its replacement.
    var eventDetails: [String: String] {
        if let credentialID = service?.credentialID, !credentialID.isEmpty {
            return ["via": via, "via_credential": credentialID]
        }
        return ["via": via]
    }

    /// The service behind the caller, acting for itself or for a user.
    public var service: ServiceIdentity? {
        switch self {
        case .service(let service): service
        case .member(let m): if case .service(let service) = m.via { service } else { nil }
        case .operatorCredential: nil
        }
    }
}

/// X18: an authenticated service credential (stored, configured, or a client certificate).
public struct ServiceIdentity: Sendable, Hashable {
    /// The actor name in events.
    public var name: String
    /// The credential's ID (`svc_…`), or `configured:<name>` / `certificate:<name>`.
    public var credentialID: String
    public var scope: Credential.Scope
    /// For ``Credential/Scope/act``: the tenants it may act in; empty means every tenant.
    public var tenants: [String]

    public init(name: String, credentialID: String, scope: Credential.Scope = .act, tenants: [String] = []) {
        self.name = name
        self.credentialID = credentialID
        self.scope = scope
        self.tenants = tenants
    }

    /// Whether this service may act for users of `tenantID` (X18).
    public func mayAct(in tenantID: String) -> Bool {
        scope == .act && (tenants.isEmpty || tenants.contains { $0.utf8.elementsEqual(tenantID.utf8) })
    }
}
