/// A credential of the server itself (X13): the operator's, or an internal service's.
///
/// Only the hash of its secret is stored (X7).
public struct Credential: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case `operator`
        case service
    }

    /// `opr_...` or `svc_...`, embedded in the secret.
    public var id: String
    public var kind: Kind
    /// The actor name in events: "operator", or the service's name.
    public var name: String
    public var secretHash: SecretHash
    public var createdAt: Int64

    public init(id: String, kind: Kind, name: String, secretHash: SecretHash, createdAt: Int64) {
        self.id = id
        self.kind = kind
        self.name = name
        self.secretHash = secretHash
        self.createdAt = createdAt
    }

    var codecKind: SecretCodec.Kind {
        switch kind {
        case .operator: .operator
        case .service: .service
        }
    }
}
