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
            throw .invalidArgument("the configuration names credential \(Validation.quoted(name)) twice", rule: "X18", reason: "duplicate_name")
        }
    }

    /// A configured credential as ``replaceConfiguredCredentials(services:operatorSecret:)`` takes it.
    public struct ConfiguredServiceCredential: Sendable {
        public var name: String
        public var secret: String
        public var scope: Credential.Scope
        public var tenants: [String]

        public init(name: String, secret: String, scope: Credential.Scope, tenants: [String]) {
            self.name = name
            self.secret = secret
            self.scope = scope
            self.tenants = tenants
        }
    }

    /// What a reload changed, by credential name (never a secret).
    public struct ConfiguredCredentialsChange: Sendable, Equatable {
        public var added: [String] = []
        public var removed: [String] = []
        /// Same name, another secret, scope or tenants.
        public var changed: [String] = []
        public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }

        public init(added: [String] = [], removed: [String] = [], changed: [String] = []) {
            self.added = added
            self.removed = removed
            self.changed = changed
        }
    }

    /// SIGHUP: replaces every configured credential at once. All are validated first, so a
    /// bad file changes nothing. Callers holding a removed or changed credential are refused
    /// from the next call on (the service caller cache drops on ``credentialsVersion``).
    @discardableResult
    public func replaceConfiguredCredentials(
        services: [ConfiguredServiceCredential], operatorSecret: String?
    ) throws(DomainError) -> ConfiguredCredentialsChange {
        let scratch = try APIKeyService(store: InMemoryKeyStore(), clock: clock)
        for service in services {
            try scratch.addConfiguredServiceCredential(
                name: service.name, secret: service.secret, scope: service.scope, tenants: service.tenants)
        }
        if let operatorSecret { try scratch.addConfiguredOperatorCredential(secret: operatorSecret) }
        let fresh = scratch.configuredCredentials.withLock { $0 }
        var change = configuredCredentials.withLock { current -> ConfiguredCredentialsChange in
            var change = ConfiguredCredentialsChange()
            let old = Dictionary(current.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            let new = Dictionary(fresh.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for (id, credential) in new {
                if let before = old[id] {
                    if !before.secretHash.constantTimeEquals(credential.secretHash) || before.scope != credential.scope
                        || before.tenants != credential.tenants {
                        change.changed.append(credential.name)
                    }
                } else {
                    change.added.append(credential.name)
                }
            }
            change.removed = old.filter { new[$0.key] == nil }.map(\.value.name)
            // Keep the creation time of unchanged entries: ListCredentials shows it.
            current = fresh.map { credential in
                guard let before = old[credential.id], before.secretHash.constantTimeEquals(credential.secretHash) else { return credential }
                var kept = credential
                kept.createdAt = before.createdAt
                return kept
            }
            return change
        }
        change.added.sort(); change.removed.sort(); change.changed.sort()
        index.credentialsVersion.add(1, ordering: .releasing)
        return change
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
