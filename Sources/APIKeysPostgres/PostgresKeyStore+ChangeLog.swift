import APIKeysDomain
import PostgresNIO

extension PostgresKeyStore {
    /// The NOTIFY channel; the payload is the schema, so stores of other schemas ignore it.
    static let changeChannel = "apikeys_changes"
    /// First key of the per-schema advisory lock taken at commit (the second is the
    /// schema's hash: stores of other schemas do not wait for each other).
    static let changeLogLock: Int32 = 0x6170_6B01

    /// Writes a transaction's change-log entries just before its COMMIT.
    ///
    /// Positions must increase in commit order: a reader that has seen position p must
    /// never later see a smaller one commit. A sequence alone does not give that (two
    /// transactions may commit in the other order than they drew numbers). So the
    /// transaction first takes a transaction-scoped advisory lock, and only then draws its
    /// positions; the lock is released after the commit is visible to everyone, so the next
    /// transaction draws larger numbers only once this one is committed (or rolled back,
    /// which leaves a harmless gap). Readers ask for `position > p` and never wait for gaps.
    func appendToChangeLog(_ changes: ChangeSet, _ s: PostgresSession) throws {
        let schema = location.schema
        // The notification is delivered at commit, after the entries are visible.
        try s.execute("""
            SELECT pg_advisory_xact_lock(\(Self.changeLogLock), hashtext(\(schema))),
                pg_notify(\(Self.changeChannel), \(schema))
            """, "locking the change log")
        let entries = changes.entries
        try s.execute("""
            INSERT INTO change_log (position, kind, first, second)
            SELECT nextval('change_position'), kind, first, second
            FROM unnest(\(entries.map(\.kind.rawValue)), \(entries.map(\.first.string)), \(entries.map(\.second.string)))
                WITH ORDINALITY AS c (kind, first, second, n)
            ORDER BY n
            """, "appending to the change log")
    }

    public func changes(after position: UInt64, limit: Int) throws -> ChangeBatch {
        try transaction(isolation: "REPEATABLE READ READ ONLY") { tx in
            let s = tx.session
            let rows = try s.rows("""
                SELECT position, kind, first, second FROM change_log
                WHERE position > \(Int64(clamping: position)) ORDER BY position LIMIT \(Int64(max(0, limit)))
                """, "reading the change log")
            var entries: [ChangeEntry] = []
            var last = position
            for row in rows {
                let r = row.makeRandomAccess()
                last = UInt64(try r[0].decode(Int64.self))
                guard let kind = ChangeEntry.Kind(rawValue: try r[1].decode(String.self)) else {
                    throw PostgresStoreError.corrupt("change_log \(last) has an unknown kind")
                }
                entries.append(ChangeEntry(kind, try r[2].decode(String.self), try r[3].decode(String.self)))
            }
            let current = try ChangedRecords.read(Set(entries), s)
            return ChangeBatch(
                position: last, records: entries.map { current.record(for: $0) }, hasMore: rows.count == limit && limit > 0)
        }
    }
}
