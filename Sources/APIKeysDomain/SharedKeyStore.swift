/// A store that several servers share (PostgreSQL), X21.
///
/// Every committed write also appends to a change log whose positions increase in commit
/// order, so a server that has applied everything up to position `p` learns every later
/// change, in order, from ``changes(after:limit:)``. The ``StoreTransaction`` mutations log
/// themselves: the domain never writes the log.
public protocol SharedKeyStore: KeyStore {
    /// The log entries committed after `position` (at most `limit` of them), each with the
    /// current state of the record it names, read in one consistent snapshot.
    func changes(after position: UInt64, limit: Int) throws -> ChangeBatch
}

/// What changed after a log position, and the position to ask from next time.
public struct ChangeBatch: Sendable {
    /// The last log position covered (the given one when nothing changed).
    public var position: UInt64
    /// The changed records in commit order; a record changed twice may appear twice.
    public var records: [ChangedRecord]
    /// Whether entries after ``position`` exist already (the limit was reached).
    public var hasMore: Bool

    public init(position: UInt64, records: [ChangedRecord], hasMore: Bool) {
        self.position = position
        self.records = records
        self.hasMore = hasMore
    }
}

/// A changed record as it is now; nil when it no longer exists.
public enum ChangedRecord: Sendable {
    case tenant(id: String, settings: TenantSettings?)
    case user(tenantID: String, userID: String, User?)
    case key(id: String, KeySnapshot?)
    case credential(id: String, Credential?)
}

/// Thrown by a store that cannot reach its database (connection refused or lost, the server
/// shutting down): callers get UNAVAILABLE and may retry, not INTERNAL. The message names
/// what failed and never a password.
public struct StoreUnavailable: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
