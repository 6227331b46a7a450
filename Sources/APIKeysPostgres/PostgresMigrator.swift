import APIKeysDomain
import PostgresNIO

/// Brings a schema to ``PostgresSchema/latestVersion`` under the database-wide migration lock,
/// one transaction per version, recorded in `schema_version`.
enum PostgresMigrator {
    static func migrate(_ s: PostgresSession) throws {
        let schema = s.location.schema
        try s.execute("SELECT pg_advisory_lock(\(PostgresSchema.migrationLock))", "taking the migration lock")
        do {
            try s.execute(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \"\(schema)\""), "creating schema \(schema)")
            // The search path was given at start-up, maybe before the schema existed.
            try s.execute(PostgresQuery(unsafeSQL: "SET search_path TO \"\(schema)\", public"), "setting the search path")
            try s.execute("""
                CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                """, "creating schema_version")
            let current = Int(try s.rows("SELECT COALESCE(MAX(version), 0) FROM schema_version", "reading the schema version")
                .first?.makeRandomAccess()[0].decode(Int32.self) ?? 0)
            guard current <= PostgresSchema.latestVersion else {
                throw PostgresStoreError(.schemaTooNew,
                    "PostgreSQL schema \(schema) at \(s.location.address) is at version \(current), newer than this apikeys knows (\(PostgresSchema.latestVersion)): run a newer apikeysd")
            }
            for version in (current + 1)...max(current + 1, PostgresSchema.latestVersion) where version <= PostgresSchema.latestVersion {
                try s.execute("BEGIN", "beginning migration \(version)")
                do {
                    for statement in PostgresSchema.migrations[version - 1] {
                        try s.execute(PostgresQuery(unsafeSQL: statement), "migration \(version)")
                    }
                    try s.execute("INSERT INTO schema_version (version) VALUES (\(Int32(version)))", "recording migration \(version)")
                    try s.execute("COMMIT", "committing migration \(version)")
                } catch {
                    _ = try? s.execute("ROLLBACK", "rolling back migration \(version)")
                    throw error
                }
            }
        } catch {
            // Closing the connection releases the lock too.
            _ = try? s.execute("SELECT pg_advisory_unlock(\(PostgresSchema.migrationLock))", "releasing the migration lock")
            throw error
        }
        try s.execute("SELECT pg_advisory_unlock(\(PostgresSchema.migrationLock))", "releasing the migration lock")
    }
}
