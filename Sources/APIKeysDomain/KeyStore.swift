/// The storage port: everything the domain needs from a database.
///
/// Every read-check-write sequence runs inside one ``write(_:)`` transaction, so an
/// implementation shared by several servers (PostgreSQL) stays correct when it makes those
/// transactions serializable or locks the rows it reads. The body may be re-run by an
/// implementation that retries on serialization failures, so it must have no effects
/// outside the transaction. Implementations throw their own errors; the domain wraps them
/// as INTERNAL.
public protocol KeyStore: StoreReader, Sendable {
    /// Runs `body` in one durable transaction: all of its writes commit, or none.
    /// Throwing from `body` rolls back.
    func write<T>(_ body: (any StoreTransaction) throws -> T) throws -> T

    /// Group commit (issue 14): runs `bodies` in order in ONE durable transaction, each in a
    /// savepoint of its own, so concurrent writes share one commit and one fsync. A body that
    /// throws is rolled back alone and its error is returned in its slot (nil: its writes are
    /// in the commit). Throws when the transaction itself fails: then nothing was written.
    /// Only called when ``groupsWrites`` is true.
    func writeGroup(_ bodies: [(any StoreTransaction) throws -> Void]) throws -> [(any Error)?]

    /// Whether ``writeGroup(_:)`` shares one commit between its bodies. A store whose
    /// commits are cheap or whose transactions retry (PostgreSQL) says false, and the
    /// service writes one transaction at a time.
    var groupsWrites: Bool { get }

    /// One page of keys (X11, R6, R7), at most `query.limit` rows.
    func listKeys(_ query: KeyQuery) throws -> [APIKey]

    /// One page of events, newest first (X10), at most `query.limit` rows.
    func listEvents(_ query: EventQuery) throws -> [Event]

    /// Streams everything the verification index needs, once at start-up.
    func loadSnapshot(_ consume: (SnapshotRecord) throws -> Void) throws

    /// Applies usage counters, the per-minute window counts (raising each window's
    /// excessive-use event at most once, see ``UsageBatch/WindowUsage``) and the verify-side
    /// events in one transaction (X9, X10). Counters add to what is stored: several servers
    /// may record usage of one key.
    func recordUsage(_ batch: UsageBatch) throws

    /// X20 retention: deletes at most `limit` events older than `time` (oldest first) in one
    /// short transaction; returns how many went. Call again while it returns `limit`.
    func deleteEvents(before time: Int64, limit: Int) throws -> Int
}

/// Reads, outside a transaction (on the store) or inside one (on a ``StoreTransaction``).
public protocol StoreReader {
    func tenant(id: String) throws -> Tenant?
    func user(tenantID: String, userID: String) throws -> User?
    /// A tenant's users, ordered by user ID.
    func users(tenantID: String) throws -> [User]
    /// A key by ID, of any tenant: the caller checks the tenant (X1).
    func key(id: String) throws -> APIKey?
    /// One owner's keys, every status.
    func keys(tenantID: String, ownerID: String) throws -> [APIKey]
    /// X3: the owner's keys that are Active at `asOf`.
    func countActiveKeys(tenantID: String, ownerID: String, asOf: Int64) throws -> Int
    /// Whether any operator credential that is not revoked exists (bootstrap).
    func hasOperatorCredential() throws -> Bool
    /// Every stored credential, revoked ones included, ordered by creation (X18).
    func credentials() throws -> [Credential]
    /// One stored credential, revoked or not.
    func credential(id: String) throws -> Credential?
}

extension KeyStore {
    public var groupsWrites: Bool { false }

    /// One transaction per body: the meaning of a group without its shared commit.
    public func writeGroup(_ bodies: [(any StoreTransaction) throws -> Void]) throws -> [(any Error)?] {
        bodies.map { body in
            do {
                try write { try body($0) }
                return nil
            } catch {
                return error
            }
        }
    }
}

extension StoreReader {
    /// Credentials are few (one per service and operator): a store may find one among all.
    public func credential(id: String) throws -> Credential? {
        try credentials().first { $0.id.isByteEqual(to: id) }
    }
}

/// Reads and writes inside one transaction of ``KeyStore/write(_:)``.
public protocol StoreTransaction: StoreReader {
    func insertTenant(_ tenant: Tenant) throws
    func updateSettings(tenantID: String, _ settings: TenantSettings) throws
    func insertUser(_ user: User) throws
    /// Replaces the user's display name, roles and license.
    func updateUser(_ user: User) throws
    func deleteUser(tenantID: String, userID: String) throws
    func insertKey(_ key: APIKey) throws
    /// Replaces the management fields (name, updatedAt, revokedAt, revokeReason);
    /// usage counters are left to ``KeyStore/recordUsage(_:)``.
    func updateKey(_ key: APIKey) throws
    func deleteKey(id: String) throws
    /// Stores an event and returns its new ID.
    @discardableResult
    func insertEvent(_ event: Event) throws -> UInt64
    /// X20: adds `count` to a stored event's count (merged refusals); no-op if it is gone.
    func addToEventCount(id: UInt64, _ count: UInt64) throws
    func insertCredential(_ credential: Credential) throws
    /// X18: sets the credential's `revokedAt`.
    func revokeCredential(id: String, at time: Int64) throws
}

/// One row of the start-up snapshot for the verification index.
public enum SnapshotRecord: Sendable {
    /// Optional, before the keys: how many keys follow, so the index is sized once.
    case keyCount(Int)
    case tenant(id: String, settings: TenantSettings)
    case user(User)
    case key(KeySnapshot)
    case credential(Credential)
    /// A ``SharedKeyStore``'s change-log position that the snapshot is consistent with:
    /// changes after it are read with ``SharedKeyStore/changes(after:limit:)``.
    case changePosition(UInt64)
}

/// What verification needs of a key: no name, no usage.
public struct KeySnapshot: Sendable, Hashable {
    public var id: String
    public var tenantID: String
    public var ownerID: String
    public var secretHash: SecretHash
    public var expiresAt: Int64
    public var revoked: Bool
    public var expiryRecorded: Bool

    public init(
        id: String, tenantID: String, ownerID: String, secretHash: SecretHash,
        expiresAt: Int64, revoked: Bool, expiryRecorded: Bool
    ) {
        self.id = id
        self.tenantID = tenantID
        self.ownerID = ownerID
        self.secretHash = secretHash
        self.expiresAt = expiresAt
        self.revoked = revoked
        self.expiryRecorded = expiryRecorded
    }
}

/// Usage counted in memory since the last flush (X9), with the events verification raised.
public struct UsageBatch: Sendable, Hashable {
    public struct Usage: Sendable, Hashable {
        public var keyID: String
        public var lastUsedAt: Int64
        /// Added to the stored count.
        public var count: UInt64

        public init(keyID: String, lastUsedAt: Int64, count: UInt64) {
            self.keyID = keyID
            self.lastUsedAt = lastUsedAt
            self.count = count
        }
    }

    /// X9 across servers: uses of one key in one minute, counted by this server since its
    /// last flush. The store adds `count` to the window's total over every server; when that
    /// total exceeds `threshold` and the window has no excessive-use event yet, it marks the
    /// window and stores `event` in the same transaction: one event per key and minute for
    /// the whole deployment. Windows before `window - 1` may be forgotten.
    public struct WindowUsage: Sendable, Hashable {
        public var keyID: String
        /// Milliseconds since 1970 divided by 60,000.
        public var window: Int64
        public var count: UInt64
        public var threshold: UInt64
        /// What the event names, as parts: the event (a details dictionary, four strings) is
        /// built only for the rare window that crosses. Built for every key of every flush it
        /// cost ~5,000 instructions a key, under the lock Verify takes.
        public var tenantID: String
        public var ownerID: String
        /// The last service that verified the key.
        public var actor: String
        /// The event's time: the last use in the window.
        public var time: Int64

        public init(keyID: String, window: Int64, count: UInt64, threshold: UInt64,
                    tenantID: String, ownerID: String, actor: String, time: Int64) {
            self.keyID = keyID
            self.window = window
            self.count = count
            self.threshold = threshold
            self.tenantID = tenantID
            self.ownerID = ownerID
            self.actor = actor
            self.time = time
        }

        /// The `key.excessive_use` event to store if this batch is the one that crosses.
        public var event: Event {
            Event(
                time: time, tenantID: tenantID, actor: actor, action: EventAction.keyExcessiveUse,
                keyID: keyID, outcome: .success,
                details: [
                    "rule": "X9", "owner": ownerID, "threshold_per_minute": String(threshold),
                    "window_start_ms": String(window * VerificationIndex.windowMilliseconds),
                ])
        }
    }

    public var usage: [Usage]
    public var windows: [WindowUsage]
    public var events: [Event]
    /// Keys whose `key.expired` event is among `events`: set their `expiryRecorded`.
    public var expiryRecorded: [String]

    public init(usage: [Usage] = [], windows: [WindowUsage] = [], events: [Event] = [], expiryRecorded: [String] = []) {
        self.usage = usage
        self.windows = windows
        self.events = events
        self.expiryRecorded = expiryRecorded
    }

    public var isEmpty: Bool { usage.isEmpty && windows.isEmpty && events.isEmpty && expiryRecorded.isEmpty }
}
