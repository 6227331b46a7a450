/// X8: why a presented secret does not authenticate; the `reason` of UNAUTHENTICATED.
public enum VerifyFailure: String, Error, Sendable, Hashable, CaseIterable {
    /// Malformed, bad checksum, no such key, or the wrong secret for the key's ID.
    case unknown
    /// R8: the key's expiry has passed.
    case expired
    /// R8, R12, X14: revoked, including because its owner was removed.
    case revoked
    /// X4: API keys are disabled in the key's tenant.
    case disabled

    var bit: UInt8 {
        switch self {
        case .unknown: 1
        case .expired: 2
        case .revoked: 4
        case .disabled: 8
        }
    }

    /// The refusal as the server sends it.
    public var error: DomainError {
        let message = switch self {
        case .unknown: "the API key is not recognised"
        case .expired: "the API key has expired"
        case .revoked: "the API key has been revoked"
        case .disabled: "API keys are disabled in the key's tenant"
        }
        let rule = switch self {
        case .unknown: "X8"
        case .expired: "R8"
        case .revoked: "R12"
        case .disabled: "X4"
        }
        return DomainError(.unauthenticated, message, rule: rule, reason: rawValue)
    }
}
