import PostgresNIO

/// The database schema, created and evolved by numbered migrations (never edited in place).
///
/// Text that identifies something is `COLLATE "C"`: equality and order are by bytes, as
/// SQLite's BINARY and the domain compare them (X15, X11), whatever the database's locale.
enum PostgresSchema {
    /// Held (session-level) while migrating: one constant for the whole database, so several
    /// servers starting at once, on one schema or several, migrate one after another.
    static let migrationLock: Int64 = 0x6170_696B_6579_0001

    /// Each migration is a list of single statements (the extended protocol runs one per query).
    static let migrations: [[String]] = [v1]

    static var latestVersion: Int { migrations.count }

    static let v1 = [
        // pg_trgm is trusted (PostgreSQL 13+): a database owner may create it.
        "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
        """
        CREATE TABLE tenant (
            id text COLLATE "C" PRIMARY KEY,
            name text NOT NULL,
            created_at bigint NOT NULL,
            api_keys_enabled boolean NOT NULL,
            max_expiry_seconds bigint NOT NULL,
            max_keys_per_user bigint NOT NULL,
            excessive_use_per_minute bigint NOT NULL,
            settings_updated_at bigint NOT NULL
        )
        """,
        """
        CREATE TABLE directory_user (
            tenant_id text COLLATE "C" NOT NULL REFERENCES tenant (id),
            user_id text COLLATE "C" NOT NULL,
            display_name text NOT NULL,
            roles text NOT NULL,
            licensed boolean NOT NULL,
            created_at bigint NOT NULL,
            PRIMARY KEY (tenant_id, user_id)
        )
        """,
        // name_lower and owner_lower are Swift's lowercased() of name and owner_id, as in the
        // SQLite store: R7 search and the name sort compare the same bytes in both stores.
        """
        CREATE TABLE api_key (
            id text COLLATE "C" PRIMARY KEY,
            tenant_id text COLLATE "C" NOT NULL,
            owner_id text COLLATE "C" NOT NULL,
            name text NOT NULL,
            name_lower text COLLATE "C" NOT NULL,
            owner_lower text COLLATE "C" NOT NULL,
            created_at bigint NOT NULL,
            updated_at bigint NOT NULL,
            expires_at bigint NOT NULL,
            revoked_at bigint,
            revoke_reason text NOT NULL DEFAULT '',
            secret_hash bytea NOT NULL,
            expiry_recorded boolean NOT NULL DEFAULT false
        )
        """,
        // X11: the admin's view, keyset paging on (sort column, id) for every R6 column.
        "CREATE INDEX api_key_tenant_name ON api_key (tenant_id, name_lower, id)",
        "CREATE INDEX api_key_tenant_id ON api_key (tenant_id, id)",
        "CREATE INDEX api_key_tenant_owner ON api_key (tenant_id, owner_id, id)",
        "CREATE INDEX api_key_tenant_updated ON api_key (tenant_id, updated_at, id)",
        "CREATE INDEX api_key_tenant_created ON api_key (tenant_id, created_at, id)",
        "CREATE INDEX api_key_tenant_expires ON api_key (tenant_id, expires_at, id)",
        // The hub (one owner's keys), the X3 count and X14 deprovisioning.
        "CREATE INDEX api_key_owner_created ON api_key (tenant_id, owner_id, created_at, id)",
        // R7: trigrams of the three searched columns. LIKE '%text%' on any of them is answered
        // through it (a bitmap OR), with the exact test rechecked on the rows found.
        """
        CREATE INDEX api_key_search ON api_key USING gin (
            name_lower public.gin_trgm_ops, id public.gin_trgm_ops, owner_lower public.gin_trgm_ops)
        """,
        // Usage counters in a narrow table: the flush of every server updates a few bytes per
        // key, without rewriting key rows that serializable writers read. No foreign key: a
        // flush must not fail for a key another server deleted meanwhile (deleteKey clears it).
        """
        CREATE TABLE key_usage (
            key_id text COLLATE "C" PRIMARY KEY,
            use_count bigint NOT NULL,
            last_used_at bigint NOT NULL
        )
        """,
        // X9 across servers: every server's uses of a key in one minute add up here; `raised`
        // makes the excessive-use event one per key and window for the whole deployment.
        """
        CREATE TABLE usage_window (
            key_id text COLLATE "C" NOT NULL,
            window_start bigint NOT NULL,
            count bigint NOT NULL,
            raised boolean NOT NULL DEFAULT false,
            PRIMARY KEY (key_id, window_start)
        )
        """,
        "CREATE INDEX usage_window_age ON usage_window (window_start)",
        """
        CREATE TABLE event (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            time bigint NOT NULL,
            tenant_id text COLLATE "C" NOT NULL,
            actor text COLLATE "C" NOT NULL,
            action text COLLATE "C" NOT NULL,
            key_id text COLLATE "C",
            outcome text NOT NULL,
            details text NOT NULL,
            count bigint NOT NULL DEFAULT 1
        )
        """,
        // X10: newest first per tenant, with each filter; X20 retention by time.
        "CREATE INDEX event_tenant_time ON event (tenant_id, time DESC, id DESC)",
        "CREATE INDEX event_tenant_key ON event (tenant_id, key_id, time DESC, id DESC)",
        "CREATE INDEX event_tenant_action ON event (tenant_id, action, time DESC, id DESC)",
        "CREATE INDEX event_tenant_actor ON event (tenant_id, actor, time DESC, id DESC)",
        "CREATE INDEX event_time ON event (time)",
        // X7, X13, X18: hashes of the operator's and services' credentials only.
        """
        CREATE TABLE credential (
            id text COLLATE "C" PRIMARY KEY,
            kind text NOT NULL,
            name text COLLATE "C" NOT NULL,
            secret_hash bytea NOT NULL,
            created_at bigint NOT NULL,
            scope text NOT NULL,
            tenants text[] COLLATE "C" NOT NULL,
            revoked_at bigint
        )
        """,
        // X21: which record each committed transaction changed, positions in commit order
        // (see PostgresKeyStore+ChangeLog). `second` is the user ID of a user entry.
        """
        CREATE TABLE change_log (
            position bigint PRIMARY KEY,
            kind text NOT NULL,
            first text COLLATE "C" NOT NULL,
            second text COLLATE "C" NOT NULL
        )
        """,
        "CREATE SEQUENCE change_position AS bigint",
    ]
}
