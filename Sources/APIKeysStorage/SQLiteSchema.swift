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
        migrator.registerMigration("v2: usage table, search index") { db in
            // Usage counters move to a narrow table of their own: the once-a-second flush upserts
            // a few bytes per used key instead of rewriting wide key rows and their indexes.
            // api_key gets an INTEGER PRIMARY KEY (`seq`) so that the search index refers to
            // rows by a rowid that VACUUM never renumbers; the name index also carries
            // owner_lower so a search sorted by name filters without reading the table.
            try db.execute(sql: """
                CREATE TABLE key_usage (
                    key_id TEXT PRIMARY KEY NOT NULL,
                    use_count INTEGER NOT NULL,
                    last_used_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                INSERT INTO key_usage (key_id, use_count, last_used_at)
                    SELECT id, use_count, COALESCE(last_used_at, 0) FROM api_key
                    WHERE use_count > 0 OR last_used_at IS NOT NULL;
                CREATE TABLE api_key_v2 (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
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
                    expiry_recorded INTEGER NOT NULL DEFAULT 0
                );
                INSERT INTO api_key_v2 (seq, id, tenant_id, owner_id, name, name_lower, owner_lower, created_at,
                        updated_at, expires_at, revoked_at, revoke_reason, secret_hash, expiry_recorded)
                    SELECT rowid, id, tenant_id, owner_id, name, name_lower, owner_lower, created_at,
                        updated_at, expires_at, revoked_at, revoke_reason, secret_hash, expiry_recorded
                    FROM api_key;
                DROP TABLE api_key;
                ALTER TABLE api_key_v2 RENAME TO api_key;
                CREATE INDEX api_key_tenant_name ON api_key(tenant_id, name_lower, id, owner_lower);
                CREATE INDEX api_key_tenant_id ON api_key(tenant_id, id);
                CREATE INDEX api_key_tenant_owner ON api_key(tenant_id, owner_id, id);
                CREATE INDEX api_key_tenant_updated ON api_key(tenant_id, updated_at, id);
                CREATE INDEX api_key_tenant_created ON api_key(tenant_id, created_at, id);
                CREATE INDEX api_key_tenant_expires ON api_key(tenant_id, expires_at, id);
                CREATE INDEX api_key_owner_created ON api_key(tenant_id, owner_id, created_at, id);

                -- R7: a trigram index over the three searched columns. detail=none keeps it small
                -- (no positions): a search asks for every trigram of its text and SQLiteListing
                -- checks the exact substring on the rows found.
                CREATE VIRTUAL TABLE api_key_search USING fts5(
                    name_lower, id, owner_lower,
                    content = 'api_key', content_rowid = 'seq',
                    tokenize = 'trigram', detail = 'none', columnsize = 0
                );
                INSERT INTO api_key_search (api_key_search) VALUES ('rebuild');
                CREATE TRIGGER api_key_search_insert AFTER INSERT ON api_key BEGIN
                    INSERT INTO api_key_search (rowid, name_lower, id, owner_lower)
                        VALUES (new.seq, new.name_lower, new.id, new.owner_lower);
                END;
                CREATE TRIGGER api_key_search_delete AFTER DELETE ON api_key BEGIN
                    INSERT INTO api_key_search (api_key_search, rowid, name_lower, id, owner_lower)
                        VALUES ('delete', old.seq, old.name_lower, old.id, old.owner_lower);
                    DELETE FROM key_usage WHERE key_id = old.id;
                END;
                CREATE TRIGGER api_key_search_rename AFTER UPDATE OF name_lower ON api_key
                WHEN old.name_lower IS NOT new.name_lower BEGIN
                    INSERT INTO api_key_search (api_key_search, rowid, name_lower, id, owner_lower)
                        VALUES ('delete', old.seq, old.name_lower, old.id, old.owner_lower);
                    INSERT INTO api_key_search (rowid, name_lower, id, owner_lower)
                        VALUES (new.seq, new.name_lower, new.id, new.owner_lower);
                END;
                """)
        }
        migrator.registerMigration("v3: credential scopes and revocation") { db in
            // X18. Credentials stored before scopes existed acted for users of every tenant:
            // they keep doing so until the operator rotates them into a narrower scope.
            try db.execute(sql: """
                ALTER TABLE credential ADD COLUMN scope TEXT NOT NULL DEFAULT 'act';
                -- A JSON array of tenant IDs; empty means every tenant.
                ALTER TABLE credential ADD COLUMN tenants TEXT NOT NULL DEFAULT '[]';
                ALTER TABLE credential ADD COLUMN revoked_at INTEGER;
                """)
        }
        migrator.registerMigration("v4: event counts and retention") { db in
            // X20: a merged refusal stands for `count` occurrences; retention deletes the
            // oldest events first, by time across tenants, through event_time.
            try db.execute(sql: """
                ALTER TABLE event ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
                CREATE INDEX event_time ON event(time);
                """)
        }
        return migrator
    }
}
