import Foundation
import APIKeysDomain
import NIOCore
import PostgresNIO

/// Row mapping: the column lists each read selects, and the values they become.
enum PostgresRows {
    /// api_key with its usage counters (kept in their own table, see ``PostgresSchema``).
    static let keyColumns = """
        k.id, k.tenant_id, k.owner_id, k.name, k.created_at, k.updated_at, k.expires_at, k.revoked_at,
        k.revoke_reason, k.secret_hash, u.last_used_at, COALESCE(u.use_count, 0), k.expiry_recorded
        """
    static let keyTables = "api_key k LEFT JOIN key_usage u ON u.key_id = k.id"

    static func key(_ row: PostgresRow) throws -> APIKey {
        let r = row.makeRandomAccess()
        let id = try r[0].decode(String.self)
        return APIKey(
            id: id, tenantID: try r[1].decode(String.self), ownerID: try r[2].decode(String.self),
            name: try r[3].decode(String.self), createdAt: try r[4].decode(Int64.self),
            updatedAt: try r[5].decode(Int64.self), expiresAt: try r[6].decode(Int64.self),
            revokedAt: try r[7].decode(Int64?.self), revokeReason: try r[8].decode(String.self),
            secretHash: try hash(r[9], of: "api_key \(id)"), lastUsedAt: try r[10].decode(Int64?.self),
            useCount: UInt64(max(0, try r[11].decode(Int64.self))), expiryRecorded: try r[12].decode(Bool.self))
    }

    /// What verification needs of a key; the snapshot and the change feed read it.
    static let keySnapshotColumns = "id, tenant_id, owner_id, secret_hash, expires_at, revoked_at IS NOT NULL, expiry_recorded"

    static func keySnapshot(_ row: PostgresRow, intern: (String) -> String = { $0 }) throws -> KeySnapshot {
        let r = row.makeRandomAccess()
        let id = try r[0].decode(String.self)
        return KeySnapshot(
            id: id, tenantID: intern(try r[1].decode(String.self)), ownerID: intern(try r[2].decode(String.self)),
            secretHash: try hash(r[3], of: "api_key \(id)"), expiresAt: try r[4].decode(Int64.self),
            revoked: try r[5].decode(Bool.self), expiryRecorded: try r[6].decode(Bool.self))
    }

    static func hash(_ cell: PostgresCell, of what: String) throws -> SecretHash {
        guard let hash = try cell.decode(ByteBuffer.self).withUnsafeReadableBytes({ SecretHash(raw: $0) }) else {
            throw PostgresStoreError.corrupt("\(what) has no valid secret hash")
        }
        return hash
    }

    static let tenantColumns = """
        id, name, created_at, api_keys_enabled, max_expiry_seconds, max_keys_per_user,
        excessive_use_per_minute, settings_updated_at
        """

    static func tenant(_ row: PostgresRow) throws -> Tenant {
        let r = row.makeRandomAccess()
        let settings = TenantSettings(
            apiKeysEnabled: try r[3].decode(Bool.self),
            maxExpirySeconds: UInt64(clamping: try r[4].decode(Int64.self)),
            maxKeysPerUser: UInt32(clamping: try r[5].decode(Int64.self)),
            excessiveUsePerMinute: UInt32(clamping: try r[6].decode(Int64.self)),
            updatedAt: try r[7].decode(Int64.self))
        return Tenant(
            id: try r[0].decode(String.self), name: try r[1].decode(String.self),
            createdAt: try r[2].decode(Int64.self), settings: settings)
    }

    static let userColumns = "tenant_id, user_id, display_name, roles, licensed, created_at"

    static func user(_ row: PostgresRow) throws -> User {
        let r = row.makeRandomAccess()
        return User(
            tenantID: try r[0].decode(String.self), userID: try r[1].decode(String.self),
            displayName: try r[2].decode(String.self), roles: Set(storedNames: try r[3].decode(String.self)),
            licensed: try r[4].decode(Bool.self), createdAt: try r[5].decode(Int64.self))
    }

    static let credentialColumns = "id, kind, name, secret_hash, created_at, scope, tenants, revoked_at"

    static func credential(_ row: PostgresRow) throws -> Credential {
        let r = row.makeRandomAccess()
        let id = try r[0].decode(String.self)
        guard let kind = Credential.Kind(rawValue: try r[1].decode(String.self)),
              let scope = Credential.Scope(rawValue: try r[5].decode(String.self))
        else { throw PostgresStoreError.corrupt("credential \(id) is malformed") }
        return Credential(
            id: id, kind: kind, name: try r[2].decode(String.self), secretHash: try hash(r[3], of: "credential \(id)"),
            createdAt: try r[4].decode(Int64.self), scope: scope, tenants: try r[6].decode([String].self),
            revokedAt: try r[7].decode(Int64?.self))
    }

    static let eventColumns = "id, time, tenant_id, actor, action, key_id, outcome, details, count"

    static func event(_ row: PostgresRow) throws -> Event {
        let r = row.makeRandomAccess()
        let details = (try? JSONDecoder().decode([String: String].self, from: Data(try r[7].decode(String.self).utf8))) ?? [:]
        return Event(
            id: UInt64(try r[0].decode(Int64.self)), time: try r[1].decode(Int64.self),
            tenantID: try r[2].decode(String.self), actor: try r[3].decode(String.self),
            action: try r[4].decode(String.self), keyID: try r[5].decode(String?.self),
            outcome: Event.Outcome(rawValue: try r[6].decode(String.self)) ?? .failure, details: details,
            count: UInt64(max(1, try r[8].decode(Int64.self))))
    }

    /// Details as JSON text with sorted keys, as the SQLite store keeps them.
    static func encodeDetails(_ details: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(details), as: UTF8.self)
    }

    static func bytes(_ hash: SecretHash) -> ByteBuffer { ByteBuffer(bytes: hash.data) }
}
