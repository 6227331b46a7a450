/// Who a client acts as (X13), sent as call metadata (docs/PROTOCOL.md §4).
public struct Credential: Sendable, Equatable {
    public let metadata: [String: String]

    /// A user presenting one of their own API keys: acts as the key's owner.
    public static func apiKey(_ secret: String) -> Credential {
        Credential(metadata: ["authorization": "Bearer \(secret)"])
    }

    /// A trusted internal service; with a tenant and user it acts for that user.
    public static func service(_ secret: String, tenant: String? = nil, user: String? = nil) -> Credential {
        var metadata = ["authorization": "Service \(secret)"]
        metadata["x-tenant-id"] = tenant
        metadata["x-user-id"] = user
        return Credential(metadata: metadata)
    }

    /// The operator, who provisions tenants, users and service credentials.
    public static func `operator`(_ secret: String) -> Credential {
        Credential(metadata: ["authorization": "Operator \(secret)"])
    }

    /// The service the connection's client certificate authenticates (mutual TLS): no
    /// `authorization` is sent; with a tenant and user it acts for that user.
    public static func clientCertificate(tenant: String? = nil, user: String? = nil) -> Credential {
        var metadata: [String: String] = [:]
        metadata["x-tenant-id"] = tenant
        metadata["x-user-id"] = user
        return Credential(metadata: metadata)
    }

    public static let none = Credential(metadata: [:])
}
