import Synchronization

/// X13: service and operator credentials that come from the server's configuration rather
/// than the store. Any secret of at least 32 characters; only its hash is kept.
extension APIKeyService {
    public static let minimumConfiguredSecretLength = 32

    /// A service credential from the configuration, with its scope (X18); for scope `act`,
    /// `tenants` limits where it may act (empty: every tenant).
    public func addConfiguredServiceCredential(
        name: String, secret: String, scope: Credential.Scope = .act, tenants: [String] = []
    ) throws(DomainError) {
        try Self.validateScope(scope, tenants: tenants)
        try addConfigured(kind: .service, name: name, secret: secret, scope: scope, tenants: tenants)
    }

    public func addConfiguredOperatorCredential(secret: String) throws(DomainError) {
        try addConfigured(kind: .operator, name: "operator", secret: secret, scope: .act, tenants: [])
    }

    private func addConfigured(
        kind: Credential.Kind, name: String, secret: String, scope: Credential.Scope, tenants: [String]
    ) throws(DomainError) {
        guard secret.count >= Self.minimumConfiguredSecretLength else {
            throw .invalidArgument(
                "a configured \(kind.rawValue) credential must have at least \(Self.minimumConfiguredSecretLength) characters",
                rule: "X13", reason: "weak_credential")
        }
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .invalidArgument("a credential name must be printable ASCII without spaces", rule: "X13", reason: "invalid_name")
        }
        let credential = Credential(
            id: "configured:\(name)", kind: kind, name: name, secretHash: SecretHash(of: secret), createdAt: now,
            scope: scope, tenants: tenants)
        let added = configuredCredentials.withLock { credentials in
            // The ID names the credential in ListCredentials and events: one per name.
            guard !credentials.contains(where: { $0.id == credential.id }) else { return false }
            credentials.append(credential)
            return true
        }
        guard added else {
            throw .invalidArgument("the configuration names credential \(AccessPolicy.quoted(name)) twice", rule: "X18", reason: "duplicate_name")
        }
    }

    /// The configured credential `secret` opens; every entry is compared in constant time.
    func configuredCredential(_ secret: String, kind: Credential.Kind) -> Credential? {
        let hash = SecretHash(of: secret)
        return configuredCredentials.withLock { credentials in
            var found: Credential?
            for credential in credentials where credential.kind == kind && credential.secretHash.constantTimeEquals(hash) {
                found = credential
            }
            return found
        }
    }
}
