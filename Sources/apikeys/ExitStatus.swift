import APIKeysWire

/// The documented exit statuses (README, "Exit codes"): one per thing a script may want
/// to react to differently. 64 (usage) and 69 (unavailable) are sysexits(3)'s numbers;
/// 2 and 4 mean what they mean to `gh` (cancelled, authentication).
enum ExitStatus {
    static let success: Int32 = 0
    /// Any other failure: INVALID_ARGUMENT, RESOURCE_EXHAUSTED, INTERNAL, a partial revoke-many...
    static let failure: Int32 = 1
    /// The answer at the confirmation prompt was not yes.
    static let cancelled: Int32 = 2
    static let notFound: Int32 = 3
    /// UNAUTHENTICATED: an unknown, revoked, expired or disabled key or credential.
    static let unauthenticated: Int32 = 4
    static let permissionDenied: Int32 = 5
    /// FAILED_PRECONDITION: e.g. API keys disabled in the tenant, no license, the last operator credential.
    static let precondition: Int32 = 6
    static let alreadyExists: Int32 = 7
    /// A bad flag or argument, a missing credential, an unreadable secret or config file,
    /// or a destructive command without --yes when stdin is not a terminal.
    static let usage: Int32 = 64
    /// No usable answer: cannot connect, TLS or protocol mismatch, timed out, UNAVAILABLE, not serving.
    static let unavailable: Int32 = 69

    static func of(_ code: StatusCode) -> Int32 {
        switch code {
        case .notFound: notFound
        case .unauthenticated: unauthenticated
        case .permissionDenied: permissionDenied
        case .failedPrecondition: precondition
        case .alreadyExists: alreadyExists
        case .unavailable, .deadlineExceeded: unavailable
        default: failure
        }
    }
}
