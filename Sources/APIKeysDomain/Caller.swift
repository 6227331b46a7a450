/// X13: who is calling, resolved from the `authorization` metadata (and `x-tenant-id`,
/// `x-user-id` for a service acting for a user) by ``APIKeyService/resolveCaller(authorization:tenantID:userID:)``.
///
/// Carries identity only: roles and license are read from the directory at each call.
public enum Caller: Sendable, Hashable {
    /// The operator credential: tenants, users and service credentials (what an identity provider does).
    case `operator`
    /// A service acting for nobody: may only verify keys (X8).
    case service(name: String)
    /// A user of a tenant, by their own API key or through a trusted service.
    case member(Member)

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
        /// `authorization: Bearer <api key>`: the user's own key.
        case apiKey(keyID: String)
        /// `authorization: Service <credential>` with `x-tenant-id` and `x-user-id`.
        case service(name: String)
    }

    /// The actor name in events: "user:<id>", "service:<name>" or "operator".
    public var actor: String {
        switch self {
        case .operator: "operator"
        case .service(let name): "service:\(name)"
        case .member(let m): "user:\(m.userID)"
        }
    }

    /// The tenant the caller acts in, if any.
    public var tenantID: String? {
        if case .member(let m) = self { return m.tenantID }
        return nil
    }

    /// The details every event of this caller carries: the service a member came through.
    var eventDetails: [String: String] {
        if case .member(let m) = self, case .service(let name) = m.via { return ["via": "service:\(name)"] }
        return [:]
    }
}
