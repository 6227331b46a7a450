/// Errors of the PostgreSQL store that are not ``StoreUnavailable``: a bad URL, a schema the
/// code does not know, or a statement the database refused (with its SQLSTATE).
///
/// Messages never hold a password; statements are named, their arguments are not shown.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The URL or configuration cannot be used.
        case configuration
        /// The database holds a schema version newer than this code.
        case schemaTooNew
        /// The database refused a statement; ``sqlState`` says why.
        case database
        /// A stored row cannot be read back.
        case corrupt
    }

    public var kind: Kind
    /// PostgreSQL's five-character error code, for ``Kind/database``.
    public var sqlState: String?
    public var message: String

    init(_ kind: Kind, sqlState: String? = nil, _ message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    static func configuration(_ message: String) -> Self { Self(.configuration, message) }
    static func corrupt(_ message: String) -> Self { Self(.corrupt, "corrupt PostgreSQL row: \(message)") }

    public var description: String { message }

    /// 40001 serialization_failure, 40P01 deadlock_detected: the transaction may be re-run.
    var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }
}
