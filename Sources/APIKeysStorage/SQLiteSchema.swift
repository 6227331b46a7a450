import GRDB

/// The database schema, created and evolved by migrations (never edited in place).
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE tenant (
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    api_keys_enabled INTEGER NOT NULL,
                    max_expiry_seconds INTEGER NOT NULL,
                    max_keys_per_user INTEGER NOT NULL,
                    excessive_use_per_minute INTEGER NOT NULL,
                    settings_updated_at INTEGER NOT NULL
                );
                CREATE TABLE directory_user (
                    tenant_id TEXT NOT NULL REFERENCES tenant(id),
                    user_id TEXT NOT NULL,
                    display_name TEXT NOT NULL,
                    roles TEXT NOT NULL,
                    licensed INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, user_id)
                );
                -- name_lower and owner_lower are Swift's lowercased() of name and owner_id:
                -- R7 search and the name sort use them, so both stores compare the same bytes.
                CREATE TABLE api_key (
                    id TEXT PRIMARY KEY NOT NULL,
                    tenant_id TEXT NOT NULL,
                    owner_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    name_lower TEXT NOT NULL,
                    owner_lower TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    revoked_at INTEGER,
                    revoke_reason TEXT NOT NULL DEFAULT '',
                    secret_hash BLOB NOT NULL,
                    last_used_at INTEGER,
                    use_count INTEGER NOT NULL DEFAULT 0,
                    expiry_recorded INTEGER NOT NULL DEFAULT 0
                );
                -- X11: the admin's view, keyset paging on (sort column, id) for every R6 column.
                CREATE INDEX api_key_tenant_name ON api_key(tenant_id, name_lower, id);
                CREATE INDEX api_key_tenant_id ON api_key(tenant_id, id);
                CREATE INDEX api_key_tenant_owner ON api_key(tenant_id, owner_id, id);
                CREATE INDEX api_key_tenant_updated ON api_key(tenant_id, updated_at, id);
                CREATE INDEX api_key_tenant_created ON api_key(tenant_id, created_at, id);
                CREATE INDEX api_key_tenant_expires ON api_key(tenant_id, expires_at, id);
                -- The hub (one owner's keys, a few hundred at most: sorted after this index),
                -- the X3 count and X14 deprovisioning.
                CREATE INDEX api_key_owner_created ON api_key(tenant_id, owner_id, created_at, id);
                -- X10: newest first per tenant, with each filter; the rowid (id) ends every index.
                CREATE TABLE event (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    time INTEGER NOT NULL,
                    tenant_id TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    key_id TEXT,
                    outcome TEXT NOT NULL,
                    details TEXT NOT NULL
                );
                CREATE INDEX event_tenant_time ON event(tenant_id, time);
                CREATE INDEX event_tenant_key ON event(tenant_id, key_id, time);
                CREATE INDEX event_tenant_action ON event(tenant_id, action, time);
                CREATE INDEX event_tenant_actor ON event(tenant_id, actor, time);
                -- X7, X13: hashes of the operator's and services' credentials only.
                CREATE TABLE credential (
                    id TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    secret_hash BLOB NOT NULL,
                    created_at INTEGER NOT NULL
                );
                """)
        }
        return migrator
    }
}
