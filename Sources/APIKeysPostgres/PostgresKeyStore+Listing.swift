import APIKeysDomain
import PostgresNIO

extension PostgresKeyStore {
    public func listKeys(_ query: KeyQuery) throws -> [APIKey] {
        let sql = try PostgresListing.keys(query)
        return try pool.withSession { try $0.rows(sql, "listing keys").map(PostgresRows.key) }
    }

    public func listEvents(_ query: EventQuery) throws -> [Event] {
        let sql = try PostgresListing.events(query)
        return try pool.withSession { try $0.rows(sql, "listing events").map(PostgresRows.event) }
    }

    /// X20: the oldest events first, through event_time, in one short statement.
    public func deleteEvents(before time: Int64, limit: Int) throws -> Int {
        try pool.withSession { s in
            try s.execute("""
                DELETE FROM event WHERE id IN (
                    SELECT id FROM event WHERE time < \(time) ORDER BY time LIMIT \(Int64(max(0, limit))))
                """, "deleting old events")
        }
    }
}
