/// How `apikeys-console` listens, signs people in and reaches `apikeysd`.
///
/// ```swift
/// var configuration = ConsoleConfiguration(serviceCredential: secret)
/// configuration.developmentMode = true   // pick a tenant and user on /signin
/// ```
public struct ConsoleConfiguration: Sendable {
    /// Where the console listens for browsers (or the authenticating proxy).
    public var host = "127.0.0.1"
    public var port = 7430
    /// The apikeysd it calls.
    public var serverHost = "127.0.0.1"
    public var serverPort = 7420
    /// A service credential of scope `act`: the console acts for the signed-in user (X13, X17).
    public var serviceCredential: String
    /// The header an authenticating proxy sets to `TENANT/USER`; honoured only from
    /// `trustedProxies`, so a browser cannot name itself someone else.
    public var trustedUserHeader: String?
    /// Peer IP addresses of the proxies that may set `trustedUserHeader`.
    public var trustedProxies: Set<String> = []
    /// Sign-in by picking a tenant and user: for a laptop only, never for production.
    public var developmentMode = false
    /// Idle sessions end after this long.
    public var sessionLifetime: Duration = .seconds(8 * 3600)
    /// Sessions held at most; beyond it the least recently seen are signed out, so a flood
    /// of sign-ins costs bounded memory.
    public var maxSessions = ConsoleConfiguration.defaultMaxSessions
    public static let defaultMaxSessions = 50_000

    public init(serviceCredential: String) {
        self.serviceCredential = serviceCredential
    }

    /// Cookies carry `Secure` except in development mode on a loopback address, where the
    /// console speaks plain HTTP to a browser on the same machine; everywhere else a proxy
    /// terminates TLS and the cookie must never travel in clear.
    public var secureCookies: Bool {
        !(developmentMode && Self.isLoopback(host))
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
