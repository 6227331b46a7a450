import APIKeysDomain
import NIOCore
import PostgresNIO

/// Reads and writes inside one serializable transaction of ``PostgresKeyStore/write(_:)``;
/// every mutation notes the record it changed for the change log, written at commit.
final class PostgresTransaction: StoreTransaction {
    let session: PostgresSession
    private(set) var changes = ChangeSet()
    /// A serialization failure or deadlock was seen, even if the body caught it and failed
    /// later with another error (an aborted transaction refuses everything after): the
    /// store re-runs the body either way.
    private(set) var sawRetryableFailure = false

    init(session: PostgresSession) { self.session = session }

    /// Runs a statement of this transaction, noting a failure the store may retry.
    @discardableResult
    private func execute(_ query: PostgresQuery, _ what: String) throws -> Int {
        try watching { try session.execute(query, what) }
    }

    private func watching<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresStoreError where error.isRetryable {
            sawRetryableFailure = true
            throw error
        }
    }

    // MARK: StoreReader

    func tenant(id: String) throws -> Tenant? { try watching { try PostgresReads.tenant(session, id: id) } }
    func user(tenantID: String, userID: String) throws -> User? {
        try watching { try PostgresReads.user(session, tenantID: tenantID, userID: userID) }
    }
    func users(tenantID: String) throws -> [User] { try watching { try PostgresReads.users(session, tenantID: tenantID) } }
    func key(id: String) throws -> APIKey? { try watching { try PostgresReads.key(session, id: id) } }
    func keys(tenantID: String, ownerID: String) throws -> [APIKey] {
        try watching { try PostgresReads.keys(session, tenantID: tenantID, ownerID: ownerID) }
    }
    func countActiveKeys(tenantID: String, ownerID: String, asOf: Int64) throws -> Int {
        try watching { try PostgresReads.countActiveKeys(session, tenantID: tenantID, ownerID: ownerID, asOf: asOf) }
    }
    func hasOperatorCredential() throws -> Bool { try watching { try PostgresReads.hasOperatorCredential(session) } }
    func credentials() throws -> [Credential] { try watching { try PostgresReads.credentials(session) } }

    // MARK: Mutations

    func insertTenant(_ tenant: Tenant) throws {
        let s = tenant.settings
        try execute("""
            INSERT INTO tenant (\(unescaped: PostgresRows.tenantColumns)) VALUES (\(tenant.id), \(tenant.name),
                \(tenant.createdAt), \(s.apiKeysEnabled), \(Int64(clamping: s.maxExpirySeconds)),
                \(Int64(s.maxKeysPerUser)), \(Int64(s.excessiveUsePerMinute)), \(s.updatedAt))
            """, "inserting a tenant")
        changes.insert(ChangeEntry(.tenant, tenant.id))
    }

    func updateSettings(tenantID: String, _ s: TenantSettings) throws {
        try execute("""
            UPDATE tenant SET api_keys_enabled = \(s.apiKeysEnabled), max_expiry_seconds = \(Int64(clamping: s.maxExpirySeconds)),
                max_keys_per_user = \(Int64(s.maxKeysPerUser)), excessive_use_per_minute = \(Int64(s.excessiveUsePerMinute)),
                settings_updated_at = \(s.updatedAt)
            WHERE id = \(tenantID)
            """, "updating settings")
        changes.insert(ChangeEntry(.tenant, tenantID))
    }

    func insertUser(_ user: User) throws {
        try execute("""
            INSERT INTO directory_user (\(unescaped: PostgresRows.userColumns)) VALUES (\(user.tenantID), \(user.userID),
                \(user.displayName), \(user.roles.storedNames), \(user.licensed), \(user.createdAt))
            """, "inserting a user")
        changes.insert(ChangeEntry(.user, user.tenantID, user.userID))
    }

    func updateUser(_ user: User) throws {
        try execute("""
            UPDATE directory_user SET display_name = \(user.displayName), roles = \(user.roles.storedNames), licensed = \(user.licensed)
            WHERE tenant_id = \(user.tenantID) AND user_id = \(user.userID)
            """, "updating a user")
        changes.insert(ChangeEntry(.user, user.tenantID, user.userID))
    }

    func deleteUser(tenantID: String, userID: String) throws {
        try execute("DELETE FROM directory_user WHERE tenant_id = \(tenantID) AND user_id = \(userID)", "deleting a user")
        changes.insert(ChangeEntry(.user, tenantID, userID))
    }

    func insertKey(_ key: APIKey) throws {
        try execute("""
            INSERT INTO api_key (id, tenant_id, owner_id, name, name_lower, owner_lower, created_at, updated_at,
                expires_at, revoked_at, revoke_reason, secret_hash, expiry_recorded)
            VALUES (\(key.id), \(key.tenantID), \(key.ownerID), \(key.name), \(key.name.lowercased()), \(key.ownerID.lowercased()),
                \(key.createdAt), \(key.updatedAt), \(key.expiresAt), \(key.revokedAt), \(key.revokeReason),
                \(PostgresRows.bytes(key.secretHash)), \(key.expiryRecorded))
            """, "inserting a key")
        if key.useCount > 0 || key.lastUsedAt != nil {
            try execute("""
                INSERT INTO key_usage (key_id, use_count, last_used_at)
                VALUES (\(key.id), \(Int64(clamping: key.useCount)), \(key.lastUsedAt ?? 0))
                ON CONFLICT (key_id) DO UPDATE SET use_count = excluded.use_count, last_used_at = excluded.last_used_at
                """, "inserting a key's usage")
        }
        changes.insert(ChangeEntry(.key, key.id))
    }

    func updateKey(_ key: APIKey) throws {
        try execute("""
            UPDATE api_key SET name = \(key.name), name_lower = \(key.name.lowercased()), updated_at = \(key.updatedAt),
                revoked_at = \(key.revokedAt), revoke_reason = \(key.revokeReason)
            WHERE id = \(key.id)
            """, "updating a key")
        changes.insert(ChangeEntry(.key, key.id))
    }

    func deleteKey(id: String) throws {
        // key_usage has no foreign key (flushes from other servers must not fail on a key
        // deleted meanwhile): its row goes here.
        try execute("DELETE FROM api_key WHERE id = \(id)", "deleting a key")
        try execute("DELETE FROM key_usage WHERE key_id = \(id)", "deleting a key's usage")
        try execute("DELETE FROM usage_window WHERE key_id = \(id)", "deleting a key's usage windows")
        changes.insert(ChangeEntry(.key, id))
    }

    func insertEvent(_ event: Event) throws -> UInt64 {
        let rows = try watching {
            try session.rows("""
                INSERT INTO event (time, tenant_id, actor, action, key_id, outcome, details, count)
                VALUES (\(event.time), \(event.tenantID), \(event.actor), \(event.action), \(event.keyID),
                    \(event.outcome.rawValue), \(try PostgresRows.encodeDetails(event.details)), \(Int64(clamping: event.count)))
                RETURNING id
                """, "inserting an event")
        }
        return UInt64(try rows.first?.makeRandomAccess()[0].decode(Int64.self) ?? 0)
    }

    func addToEventCount(id: UInt64, _ count: UInt64) throws {
        try execute("UPDATE event SET count = count + \(Int64(clamping: count)) WHERE id = \(Int64(clamping: id))", "counting an event")
    }

    func insertCredential(_ credential: Credential) throws {
        try execute("""
            INSERT INTO credential (\(unescaped: PostgresRows.credentialColumns)) VALUES (\(credential.id),
                \(credential.kind.rawValue), \(credential.name), \(PostgresRows.bytes(credential.secretHash)),
                \(credential.createdAt), \(credential.scope.rawValue), \(credential.tenants), \(credential.revokedAt))
            """, "inserting a credential")
        changes.insert(ChangeEntry(.credential, credential.id))
    }

    func revokeCredential(id: String, at time: Int64) throws {
        try execute("UPDATE credential SET revoked_at = \(time) WHERE id = \(id) AND revoked_at IS NULL", "revoking a credential")
        changes.insert(ChangeEntry(.credential, id))
    }
}
