import Synchronization

/// X13: service and operator credentials that come from the server's configuration rather
/// than the store. Any secret of at least 32 characters; only its hash is kept.
extension APIKeyService {
    public static let minimumConfiguredSecretLength = 32

    public func addConfiguredServiceCredential(name: String, secret: String) throws(DomainError) {
        try addConfigured(kind: .service, name: name, secret: secret)
    }

    public func addConfiguredOperatorCredential(secret: String) throws(DomainError) {
        try addConfigured(kind: .operator, name: "operator", secret: secret)
    }

    private func addConfigured(kind: Credential.Kind, name: String, secret: String) throws(DomainError) {
        guard secret.count >= Self.minimumConfiguredSecretLength else {
            throw .invalidArgument(
                "a configured \(kind.rawValue) credential must have at least \(Self.minimumConfiguredSecretLength) characters",
                rule: "X13", reason: "weak_credential")
        }
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .invalidArgument("a credential name must be printable ASCII without spaces", rule: "X13", reason: "invalid_name")
        }
        let credential = Credential(id: "configured:\(name)", kind: kind, name: name, secretHash: SecretHash(of: secret), createdAt: now)
        configuredCredentials.withLock { $0.append(credential) }
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
