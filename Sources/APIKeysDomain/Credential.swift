/// A credential of the server itself (X13, X18): the operator's, or an internal service's.
///
/// Only the hash of its secret is stored (X7).
public struct Credential: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case `operator`
        case service
    }

    /// X18: what a service credential may do. Operator credentials are always `act`.
    public enum Scope: String, Sendable, Hashable {
        /// Verification/Verify only (X8).
        case verify
        /// Acts for users (x-tenant-id, x-user-id), optionally only in ``Credential/tenants``; also verifies.
        case act
    }

    /// `opr_...` or `svc_...`, embedded in the secret.
    public var id: String
    public var kind: Kind
    /// The actor name in events: "operator", or the service's name.
    public var name: String
    public var secretHash: SecretHash
    public var createdAt: Int64
    public var scope: Scope
    /// For scope `act`: the tenants the service may act in; empty means every tenant.
    public var tenants: [String]
    /// Set when revoked (X18); a revoked credential never authenticates again.
    public var revokedAt: Int64?

    public init(
        id: String, kind: Kind, name: String, secretHash: SecretHash, createdAt: Int64,
        scope: Scope = .act, tenants: [String] = [], revokedAt: Int64? = nil
    ) {
        self.id = id
        self.kind = kind
        self.name = name
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.scope = scope
        self.tenants = tenants
        self.revokedAt = revokedAt
    }

    /// From the server's configuration (a file or the environment), not the store.
    public var isConfigured: Bool { id.hasPrefix("configured:") }

    var codecKind: SecretCodec.Kind {
        switch kind {
        case .operator: .operator
        case .service: .service
        }
    }

    /// The identity a service credential gives its caller.
    public var serviceIdentity: ServiceIdentity {
        ServiceIdentity(name: name, credentialID: id, scope: scope, tenants: tenants)
    }
}
