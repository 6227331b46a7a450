import APIKeysDomain
import Foundation

/// Whether the server can do its work: the verification index is loaded (it is, once the
/// service exists) and current (X21), and the store answers a query (on a database file
/// that is still there). Blocks on the store: call it off the event loop.
public struct Readiness: Sendable {
    let service: APIKeyService
    /// SQLite only.
    let databasePath: String?
    /// Shared store only (X21): older verification data than this is not ready.
    let maxStaleness: Duration?

    /// Nil when ready; otherwise what is wrong, for the log and `/readyz` (no secret).
    public func problem() -> String? {
        // A deleted or unmounted data directory: SQLite would go on with its open descriptors.
        if let databasePath, !FileManager.default.fileExists(atPath: databasePath) {
            return "the database file \(databasePath) is gone"
        }
        if let maxStaleness {
            let limit = maxStaleness.components.seconds * 1000
            let staleness = service.staleness
            if staleness > limit {
                return "the verification data is \(staleness / 1000) s old (limit \(limit / 1000) s): the store's change log cannot be read"
            }
        }
        do {
            _ = try service.store.tenant(id: "")
            return nil
        } catch {
            return "the store does not answer: \(error)"
        }
    }
}
