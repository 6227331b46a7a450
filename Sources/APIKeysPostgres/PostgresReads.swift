import APIKeysDomain
import PostgresNIO

/// The ``StoreReader`` reads on one session: the store runs each on its own (autocommit),
/// a ``PostgresTransaction`` inside its transaction.
enum PostgresReads {
    static func tenant(_ s: PostgresSession, id: String) throws -> Tenant? {
        try s.rows("SELECT \(unescaped: PostgresRows.tenantColumns) FROM tenant WHERE id = \(id)", "reading a tenant")
            .first.map(PostgresRows.tenant)
    }

    static func user(_ s: PostgresSession, tenantID: String, userID: String) throws -> User? {
        try s.rows("""
            SELECT \(unescaped: PostgresRows.userColumns) FROM directory_user WHERE tenant_id = \(tenantID) AND user_id = \(userID)
            """, "reading a user").first.map(PostgresRows.user)
    }

    static func users(_ s: PostgresSession, tenantID: String) throws -> [User] {
        try s.rows("""
            SELECT \(unescaped: PostgresRows.userColumns) FROM directory_user WHERE tenant_id = \(tenantID) ORDER BY user_id
            """, "reading users").map(PostgresRows.user)
    }

    static func key(_ s: PostgresSession, id: String) throws -> APIKey? {
        try s.rows("SELECT \(unescaped: PostgresRows.keyColumns) FROM \(unescaped: PostgresRows.keyTables) WHERE k.id = \(id)", "reading a key")
            .first.map(PostgresRows.key)
    }

    static func keys(_ s: PostgresSession, tenantID: String, ownerID: String) throws -> [APIKey] {
        try s.rows("""
            SELECT \(unescaped: PostgresRows.keyColumns) FROM \(unescaped: PostgresRows.keyTables)
            WHERE k.tenant_id = \(tenantID) AND k.owner_id = \(ownerID) ORDER BY k.created_at, k.id
            """, "reading an owner's keys").map(PostgresRows.key)
    }

    static func countActiveKeys(_ s: PostgresSession, tenantID: String, ownerID: String, asOf: Int64) throws -> Int {
        let rows = try s.rows("""
            SELECT COUNT(*) FROM api_key
            WHERE tenant_id = \(tenantID) AND owner_id = \(ownerID) AND revoked_at IS NULL AND expires_at > \(asOf)
            """, "counting active keys")
        return Int(try rows.first?.makeRandomAccess()[0].decode(Int64.self) ?? 0)
    }

    static func hasOperatorCredential(_ s: PostgresSession) throws -> Bool {
        let rows = try s.rows(
            "SELECT EXISTS (SELECT 1 FROM credential WHERE kind = 'operator' AND revoked_at IS NULL)",
            "reading credentials")
        return try rows.first?.makeRandomAccess()[0].decode(Bool.self) ?? false
    }

    static func credentials(_ s: PostgresSession) throws -> [Credential] {
        try s.rows("SELECT \(unescaped: PostgresRows.credentialColumns) FROM credential ORDER BY created_at, id", "reading credentials")
            .map(PostgresRows.credential)
    }
}
