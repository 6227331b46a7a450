import APIKeysDomain
import Foundation
import GRDB

/// Reads and writes inside one `BEGIN IMMEDIATE` transaction of ``SQLiteKeyStore``.
final class SQLiteTransaction: StoreTransaction {
    let db: Database

    init(db: Database) { self.db = db }

    func tenant(id: String) throws -> Tenant? { try SQLiteQueries.tenant(db, id: id) }
    func user(tenantID: String, userID: String) throws -> User? { try SQLiteQueries.user(db, tenantID: tenantID, userID: userID) }
    func users(tenantID: String) throws -> [User] { try SQLiteQueries.users(db, tenantID: tenantID) }
    func key(id: String) throws -> APIKey? { try SQLiteQueries.key(db, id: id) }
    func keys(tenantID: String, ownerID: String) throws -> [APIKey] { try SQLiteQueries.keys(db, tenantID: tenantID, ownerID: ownerID) }
    func countActiveKeys(tenantID: String, ownerID: String, asOf: Int64) throws -> Int {
        try SQLiteQueries.countActiveKeys(db, tenantID: tenantID, ownerID: ownerID, asOf: asOf)
    }
    func hasOperatorCredential() throws -> Bool { try SQLiteQueries.hasOperatorCredential(db) }
    func credentials() throws -> [Credential] { try SQLiteQueries.credentials(db) }

    func insertTenant(_ tenant: Tenant) throws {
        let s = tenant.settings
        try db.execute(sql: "INSERT INTO tenant (\(SQLiteQueries.tenantColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", arguments: [
            tenant.id, tenant.name, tenant.createdAt, s.apiKeysEnabled, Int64(s.maxExpirySeconds),
            Int64(s.maxKeysPerUser), Int64(s.excessiveUsePerMinute), s.updatedAt,
        ])
    }

    func updateSettings(tenantID: String, _ s: TenantSettings) throws {
        try db.execute(sql: """
            UPDATE tenant SET api_keys_enabled = ?, max_expiry_seconds = ?, max_keys_per_user = ?,
                excessive_use_per_minute = ?, settings_updated_at = ?
            WHERE id = ?
            """, arguments: [
                s.apiKeysEnabled, Int64(s.maxExpirySeconds), Int64(s.maxKeysPerUser),
                Int64(s.excessiveUsePerMinute), s.updatedAt, tenantID,
            ])
    }

    func insertUser(_ user: User) throws {
        try db.execute(sql: "INSERT INTO directory_user (\(SQLiteQueries.userColumns)) VALUES (?, ?, ?, ?, ?, ?)", arguments: [
            user.tenantID, user.userID, user.displayName, user.roles.storedNames, user.licensed, user.createdAt,
        ])
    }

    func updateUser(_ user: User) throws {
        try db.execute(sql: """
            UPDATE directory_user SET display_name = ?, roles = ?, licensed = ? WHERE tenant_id = ? AND user_id = ?
            """, arguments: [user.displayName, user.roles.storedNames, user.licensed, user.tenantID, user.userID])
    }

    func deleteUser(tenantID: String, userID: String) throws {
        try db.execute(sql: "DELETE FROM directory_user WHERE tenant_id = ? AND user_id = ?", arguments: [tenantID, userID])
    }

    func insertKey(_ key: APIKey) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO api_key (id, tenant_id, owner_id, name, name_lower, owner_lower, created_at, updated_at,
                expires_at, revoked_at, revoke_reason, secret_hash, expiry_recorded)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.execute(arguments: [
                key.id, key.tenantID, key.ownerID, key.name, key.name.lowercased(), key.ownerID.lowercased(),
                key.createdAt, key.updatedAt, key.expiresAt, key.revokedAt, key.revokeReason, key.secretHash.data,
                key.expiryRecorded,
            ])
        if key.useCount > 0 || key.lastUsedAt != nil {
            try addUsage([UsageBatch.Usage(keyID: key.id, lastUsedAt: key.lastUsedAt ?? 0, count: key.useCount)])
        }
    }

    /// Adds to keys' usage counters in one statement (the flush sends tens of thousands at
    /// once: a JSON array keeps the per-row work inside SQLite), in key order so that
    /// consecutive upserts touch neighbouring pages. Keys deleted since their use are skipped.
    func addUsage(_ usage: [UsageBatch.Usage]) throws {
        guard !usage.isEmpty else { return }
        // Bytes, not String appends and interpolations: tens of thousands of keys a flush, and
        // building the text was a quarter of the flush's cost per key.
        var json: [UInt8] = [UInt8(ascii: "[")]
        json.reserveCapacity(usage.count * 56)
        for (i, u) in usage.enumerated() {
            if i > 0 { json.append(UInt8(ascii: ",")) }
            json.append(UInt8(ascii: "["))
            try Self.appendJSONString(u.keyID, to: &json)
            json.append(UInt8(ascii: ","))
            Self.appendDecimal(Int64(clamping: u.count), to: &json)
            json.append(UInt8(ascii: ","))
            Self.appendDecimal(u.lastUsedAt, to: &json)
            json.append(UInt8(ascii: "]"))
        }
        json.append(UInt8(ascii: "]"))
        let statement = try db.cachedStatement(sql: """
            INSERT INTO key_usage (key_id, use_count, last_used_at)
                SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)
                WHERE EXISTS (SELECT 1 FROM api_key WHERE id = value ->> 0)
                ORDER BY 1
            ON CONFLICT (key_id) DO UPDATE SET
                use_count = use_count + excluded.use_count,
                last_used_at = MAX(last_used_at, excluded.last_used_at)
            """)
        try statement.execute(arguments: [String(decoding: json, as: UTF8.self)])
    }

    private static func appendJSONString(_ text: String, to json: inout [UInt8]) throws {
        let utf8 = text.utf8
        if utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            json.append(UInt8(ascii: "\""))  // every key ID: nothing to escape
            json.append(contentsOf: utf8)
            json.append(UInt8(ascii: "\""))
        } else {
            json.append(contentsOf: try JSONEncoder().encode(text))
        }
    }

    static func appendDecimal(_ value: Int64, to json: inout [UInt8]) {
        json.append(contentsOf: String(value).utf8)  // counts and timestamps fit a small string: no allocation
    }

    func updateKey(_ key: APIKey) throws {
        try db.execute(sql: """
            UPDATE api_key SET name = ?, name_lower = ?, updated_at = ?, revoked_at = ?, revoke_reason = ?
            WHERE id = ?
            """, arguments: [key.name, key.name.lowercased(), key.updatedAt, key.revokedAt, key.revokeReason, key.id])
    }

    func deleteKey(id: String) throws {
        try db.execute(sql: "DELETE FROM api_key WHERE id = ?", arguments: [id])
    }

    func insertEvent(_ event: Event) throws -> UInt64 {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO event (time, tenant_id, actor, action, key_id, outcome, details, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.execute(arguments: [
            event.time, event.tenantID, event.actor, event.action, event.keyID, event.outcome.rawValue,
            SQLiteQueries.encodeDetails(event.details), Int64(clamping: event.count),
        ])
        return UInt64(db.lastInsertedRowID)
    }

    func addToEventCount(id: UInt64, _ count: UInt64) throws {
        let statement = try db.cachedStatement(sql: "UPDATE event SET count = count + ? WHERE id = ?")
        try statement.execute(arguments: [Int64(clamping: count), Int64(clamping: id)])
    }

    func insertCredential(_ credential: Credential) throws {
        try db.execute(sql: "INSERT INTO credential (\(SQLiteQueries.credentialColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", arguments: [
            credential.id, credential.kind.rawValue, credential.name, credential.secretHash.data, credential.createdAt,
            credential.scope.rawValue, SQLiteQueries.storedTenants(credential.tenants), credential.revokedAt,
        ])
    }

    func revokeCredential(id: String, at time: Int64) throws {
        try db.execute(sql: "UPDATE credential SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [time, id])
    }
}
