import Foundation

/// A signed-in browser: who it acts for and its CSRF token.
struct Session: Sendable {
    let id: String
    let tenantID: String
    let userID: String
    /// Sent in every form and compared on every POST (double-checked against the session,
    /// never taken from a cookie alone).
    let csrfToken: String
    /// How the user came in: "development" or "proxy".
    let via: String
    var lastSeen: ContinuousClock.Instant
    /// A just generated key's secret, held only until the one page that shows it (R18):
    /// taken out on that page's first load, so a reload cannot show it again.
    var pendingSecret: PendingSecret?
    /// A one-time notice for the next page ("Settings saved").
    var notice: String?
}

/// A generated key's secret between the POST that made it and the page that shows it once.
struct PendingSecret: Sendable {
    let keyID: String
    let keyName: String
    let secret: String
    let expiresAtMs: Int64
}
