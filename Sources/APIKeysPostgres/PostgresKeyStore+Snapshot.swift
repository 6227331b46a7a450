import APIKeysDomain
import PostgresNIO

extension PostgresKeyStore {
    /// Rows fetched per round trip while streaming a table.
    static let snapshotFetchSize = 10_000

    /// One repeatable-read snapshot: the change-log position first (changes after it are not
    /// in the snapshot), then the key count, tenants, users, keys and credentials. Tables are
    /// read through server-side cursors, a few thousand rows at a time, so a million keys
    /// are never held twice; tenant and owner strings are shared between rows.
    public func loadSnapshot(_ consume: (SnapshotRecord) throws -> Void) throws {
        try transaction(isolation: "REPEATABLE READ READ ONLY") { tx in
            let s = tx.session
            let position = try s.rows("SELECT COALESCE(MAX(position), 0) FROM change_log", "reading the change-log position")
                .first?.makeRandomAccess()[0].decode(Int64.self) ?? 0
            try consume(.changePosition(UInt64(position)))
            let count = try s.rows("SELECT COUNT(*) FROM api_key", "counting keys").first?.makeRandomAccess()[0].decode(Int64.self) ?? 0
            try consume(.keyCount(Int(count)))
            try stream("SELECT \(PostgresRows.tenantColumns) FROM tenant", s) { row in
                let tenant = try PostgresRows.tenant(row)
                try consume(.tenant(id: tenant.id, settings: tenant.settings))
            }
            try stream("SELECT \(PostgresRows.userColumns) FROM directory_user", s) { try consume(.user(try PostgresRows.user($0))) }
            // Keyed by bytes (X15): a String key would hand an NFD owner the NFC spelling's string.
            var interned: [ExactString: String] = [:]
            func intern(_ text: String) -> String {
                if let existing = interned[ExactString(text)] { return existing }
                interned[ExactString(text)] = text
                return text
            }
            try stream("SELECT \(PostgresRows.keySnapshotColumns) FROM api_key", s) { row in
                try consume(.key(try PostgresRows.keySnapshot(row, intern: intern)))
            }
            try stream("SELECT \(PostgresRows.credentialColumns) FROM credential", s) {
                try consume(.credential(try PostgresRows.credential($0)))
            }
        }
    }

    /// Reads `sql` through a cursor of the current transaction, ``snapshotFetchSize`` rows at a time.
    private func stream(_ sql: String, _ s: PostgresSession, _ each: (PostgresRow) throws -> Void) throws {
        try s.execute(PostgresQuery(unsafeSQL: "DECLARE snapshot_rows NO SCROLL CURSOR FOR \(sql)"), "opening a snapshot cursor")
        while true {
            let rows = try s.rows(
                PostgresQuery(unsafeSQL: "FETCH \(Self.snapshotFetchSize) FROM snapshot_rows"), "reading the snapshot")
            for row in rows { try each(row) }
            if rows.count < Self.snapshotFetchSize { break }
        }
        try s.execute("CLOSE snapshot_rows", "closing a snapshot cursor")
    }
}
