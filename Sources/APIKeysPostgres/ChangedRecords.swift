import APIKeysDomain
import PostgresNIO

/// The current state of the records a batch of change-log entries names, read with one
/// query per kind inside the batch's snapshot.
struct ChangedRecords {
    private var tenants: [ExactString: TenantSettings] = [:]
    private var users: [ChangeEntry: User] = [:]
    private var keys: [ExactString: KeySnapshot] = [:]
    private var credentials: [ExactString: Credential] = [:]

    static func read(_ entries: Set<ChangeEntry>, _ s: PostgresSession) throws -> ChangedRecords {
        var found = ChangedRecords()
        func ids(_ kind: ChangeEntry.Kind) -> [String] { entries.filter { $0.kind == kind }.map(\.first.string) }
        let tenantIDs = ids(.tenant), keyIDs = ids(.key), credentialIDs = ids(.credential)
        let userEntries = entries.filter { $0.kind == .user }
        if !tenantIDs.isEmpty {
            for row in try s.rows("SELECT \(unescaped: PostgresRows.tenantColumns) FROM tenant WHERE id = ANY(\(tenantIDs))", "reading changed tenants") {
                let tenant = try PostgresRows.tenant(row)
                found.tenants[ExactString(tenant.id)] = tenant.settings
            }
        }
        if !userEntries.isEmpty {
            for row in try s.rows("""
                SELECT \(unescaped: PostgresRows.userColumns) FROM directory_user
                WHERE (tenant_id, user_id) IN (SELECT * FROM unnest(\(userEntries.map(\.first.string)), \(userEntries.map(\.second.string))))
                """, "reading changed users") {
                let user = try PostgresRows.user(row)
                found.users[ChangeEntry(.user, user.tenantID, user.userID)] = user
            }
        }
        if !keyIDs.isEmpty {
            for row in try s.rows("SELECT \(unescaped: PostgresRows.keySnapshotColumns) FROM api_key WHERE id = ANY(\(keyIDs))", "reading changed keys") {
                let key = try PostgresRows.keySnapshot(row)
                found.keys[ExactString(key.id)] = key
            }
        }
        if !credentialIDs.isEmpty {
            for row in try s.rows("SELECT \(unescaped: PostgresRows.credentialColumns) FROM credential WHERE id = ANY(\(credentialIDs))", "reading changed credentials") {
                let credential = try PostgresRows.credential(row)
                found.credentials[ExactString(credential.id)] = credential
            }
        }
        return found
    }

    func record(for entry: ChangeEntry) -> ChangedRecord {
        switch entry.kind {
        case .tenant: .tenant(id: entry.first.string, settings: tenants[entry.first])
        case .user: .user(tenantID: entry.first.string, userID: entry.second.string, users[entry])
        case .key: .key(id: entry.first.string, keys[entry.first])
        case .credential: .credential(id: entry.first.string, credentials[entry.first])
        }
    }
}
