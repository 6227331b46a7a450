import APIKeysDomain
import Foundation
import GRDB

/// Row mapping and the reads shared by the store (outside a transaction) and its transactions.
enum SQLiteQueries {
    /// What ``key(_:)`` reads, from ``keyTables(_:)``: usage lives in its own table.
    static let keyColumns = """
        api_key.id, tenant_id, owner_id, name, created_at, updated_at, expires_at, revoked_at, revoke_reason,
        secret_hash, key_usage.last_used_at, COALESCE(key_usage.use_count, 0), expiry_recorded
        """

    /// api_key (with an optional `INDEXED BY …` clause) and its usage counters.
    static func keyTables(_ indexClause: String = "") -> String {
        "api_key\(indexClause) LEFT JOIN key_usage ON key_usage.key_id = api_key.id"
    }

    static func key(_ row: Row) throws -> APIKey {
        guard let hash = try SQLiteQueries.hash(row, 9) else {
            throw StorageError.corrupt("api_key \(row[0] as String? ?? "?") has no valid secret hash")
        }
        return APIKey(
            id: row[0], tenantID: row[1], ownerID: row[2], name: row[3],
            createdAt: row[4], updatedAt: row[5], expiresAt: row[6],
            revokedAt: row[7], revokeReason: row[8], secretHash: hash,
            lastUsedAt: row[10], useCount: UInt64(max(0, row[11] as Int64)), expiryRecorded: row[12])
    }

    /// A 32-byte hash column, read without copying the blob.
    static func hash(_ row: Row, _ index: Int) throws -> SecretHash? {
        try row.withUnsafeData(atIndex: index) { data in data.flatMap { $0.withUnsafeBytes { SecretHash(raw: $0) } } }
    }

    static let tenantColumns = """
        id, name, created_at, api_keys_enabled, max_expiry_seconds, max_keys_per_user,
        excessive_use_per_minute, settings_updated_at
        """

    static func tenant(_ row: Row) -> Tenant {
        Tenant(id: row[0], name: row[1], createdAt: row[2], settings: settings(row, from: 3))
    }

    static func settings(_ row: Row, from i: Int) -> TenantSettings {
        TenantSettings(
            apiKeysEnabled: row[i], maxExpirySeconds: UInt64(row[i + 1] as Int64),
            maxKeysPerUser: UInt32(row[i + 2] as Int64), excessiveUsePerMinute: UInt32(row[i + 3] as Int64),
            updatedAt: row[i + 4])
    }

    static let userColumns = "tenant_id, user_id, display_name, roles, licensed, created_at"

    static func user(_ row: Row) -> User {
        User(
            tenantID: row[0], userID: row[1], displayName: row[2], roles: Set(storedNames: row[3]),
            licensed: row[4], createdAt: row[5])
    }

    static let credentialColumns = "id, kind, name, secret_hash, created_at, scope, tenants, revoked_at"

    static func credential(_ row: Row) throws -> Credential {
        guard let kind = Credential.Kind(rawValue: row[1]),
              let hash = try SQLiteQueries.hash(row, 3),
              let scope = Credential.Scope(rawValue: row[5]),
              let tenants = try? JSONDecoder().decode([String].self, from: Data((row[6] as String).utf8))
        else { throw StorageError.corrupt("credential \(row[0] as String? ?? "?") is malformed") }
        return Credential(
            id: row[0], kind: kind, name: row[2], secretHash: hash, createdAt: row[4],
            scope: scope, tenants: tenants, revokedAt: row[7])
    }

    /// Tenants as a JSON array: X15 lets identifiers hold any character, a separator included.
    static func storedTenants(_ tenants: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(tenants)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func credentials(_ db: Database) throws -> [Credential] {
        // Read by every service-credential write (X18: is the caller's credential current?).
        try Row.fetchAll(try db.cachedStatement(sql: "SELECT \(credentialColumns) FROM credential ORDER BY created_at, id")).map(credential)
    }

    static func event(_ row: Row) throws -> Event {
        let detailsText: String = row[7]
        let details = (try? JSONDecoder().decode([String: String].self, from: Data(detailsText.utf8))) ?? [:]
        return Event(
            id: UInt64(row[0] as Int64), time: row[1], tenantID: row[2], actor: row[3], action: row[4],
            keyID: row[5], outcome: Event.Outcome(rawValue: row[6]) ?? .failure, details: details,
            count: UInt64(max(1, row[8] as Int64)))
    }

    /// A JSON object with sorted keys. Written by hand: every write's event has one, and
    /// JSONEncoder (a new encoder each time, generic boxing) was 3% of a Generate's CPU.
    static func encodeDetails(_ details: [String: String]) -> String {
        var json: [UInt8] = [UInt8(ascii: "{")]
        for (i, key) in details.keys.sorted().enumerated() {
            if i > 0 { json.append(UInt8(ascii: ",")) }
            appendJSONString(key, to: &json)
            json.append(UInt8(ascii: ":"))
            appendJSONString(details[key]!, to: &json)
        }
        json.append(UInt8(ascii: "}"))
        return String(decoding: json, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func appendJSONString(_ string: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                json += [UInt8(ascii: "\\"), byte]
            case 0..<0x20:
                json += Array("\\u00".utf8) + [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]]
            default:
                json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }

    // MARK: Reads

    // The reads every write makes (tenant, user, key, the R16 count) use each connection's
    // cached statements: compiling one each time, with GRDB's authorizer watching the
    // compilation, was a quarter of a Generate's CPU (issue 14, goal 5).

    static func tenant(_ db: Database, id: String) throws -> Tenant? {
        let statement = try db.cachedStatement(sql: "SELECT \(tenantColumns) FROM tenant WHERE id = ?")
        return try Row.fetchOne(statement, arguments: [id]).map(tenant)
    }

    static func user(_ db: Database, tenantID: String, userID: String) throws -> User? {
        let statement = try db.cachedStatement(sql: "SELECT \(userColumns) FROM directory_user WHERE tenant_id = ? AND user_id = ?")
        return try Row.fetchOne(statement, arguments: [tenantID, userID]).map(user)
    }

    static func users(_ db: Database, tenantID: String) throws -> [User] {
        try Row.fetchAll(
            db, sql: "SELECT \(userColumns) FROM directory_user WHERE tenant_id = ? ORDER BY user_id",
            arguments: [tenantID]
        ).map(user)
    }

    static func key(_ db: Database, id: String) throws -> APIKey? {
        let statement = try db.cachedStatement(sql: "SELECT \(keyColumns) FROM \(keyTables()) WHERE api_key.id = ?")
        return try Row.fetchOne(statement, arguments: [id]).map(key)
    }

    static func keys(_ db: Database, tenantID: String, ownerID: String) throws -> [APIKey] {
        try Row.fetchAll(
            db, sql: "SELECT \(keyColumns) FROM \(keyTables(" INDEXED BY api_key_owner_created")) WHERE tenant_id = ? AND owner_id = ? ORDER BY created_at, api_key.id",
            arguments: [tenantID, ownerID]
        ).map(key)
    }

    static func countActiveKeys(_ db: Database, tenantID: String, ownerID: String, asOf: Int64) throws -> Int {
        let statement = try db.cachedStatement(sql: """
            SELECT COUNT(*) FROM api_key INDEXED BY api_key_owner_created
            WHERE tenant_id = ? AND owner_id = ? AND revoked_at IS NULL AND expires_at > ?
            """)
        return try Int.fetchOne(statement, arguments: [tenantID, ownerID, asOf]) ?? 0
    }

    static func hasOperatorCredential(_ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM credential WHERE kind = 'operator' AND revoked_at IS NULL)") ?? false
    }
}

/// Errors of the SQLite store itself; database errors pass through as GRDB's.
public enum StorageError: Error, Sendable, CustomStringConvertible {
    case corrupt(String)

    public var description: String {
        switch self {
        case .corrupt(let what): "corrupt database: \(what)"
        }
    }
}
