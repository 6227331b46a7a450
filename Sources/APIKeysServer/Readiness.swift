import APIKeysDomain
import Foundation

/// Whether the server can do its work: the verification index is loaded (it is, once the
/// service exists) and current (X21), and the store answers a query (on a database file
/// that is still there). Blocks on the store: call it off the event loop.
public struct Readiness: Sendable {
    let service: APIKeyService
    /// SQLite only.
    let databasePath: String?

    /// Nil when ready; otherwise what is wrong, for the log and `/readyz` (no secret).
    public func problem() -> String? {
        // A deleted or unmounted data directory: SQLite would go on with its open descriptors.
        if let databasePath, !FileManager.default.fileExists(atPath: databasePath) {
            return "the database file \(databasePath) is gone"
        }
        // X21: the same limit Verify keeps (a shared store whose change log went unread).
        do { try service.checkFreshness() } catch { return error.message }
        do {
            _ = try service.store.tenant(id: "")
            return nil
        } catch {
            return "the store does not answer: \(error)"
        }
    }
}
