import Synchronization

/// A ``KeyStore`` that keeps everything in memory: for tests of the domain and the server,
/// and as the reference semantics the database stores must match. Not durable.
///
/// A write runs on a copy of the state that replaces it only when the body returns, so a
/// throwing body rolls back, as in a database. Also a ``SharedKeyStore``: several services
/// on one instance behave as several servers on one database.
public final class InMemoryKeyStore: SharedKeyStore {
    struct State: Sendable {
        // X15: identifiers key by their bytes, as the SQLite store compares them.
        var tenants: [ExactString: Tenant] = [:]
        var users: [ExactString: [ExactString: User]] = [:]
        var keys: [String: APIKey] = [:]
        var events: [Event] = []
        var nextEventID: UInt64 = 1
        var credentials: [String: Credential] = [:]
        /// X9: the deployment's count per key and window, and whether its event was stored.
        var windows: [WindowID: (count: UInt64, raised: Bool)] = [:]
        /// X21: what each commit changed, in commit order; position n is `changeLog[n - 1]`.
        var changeLog: [LoggedChange] = []
    }

    struct WindowID: Hashable {
        var keyID: String
        var window: Int64
    }

    enum LoggedChange: Sendable {
        case tenant(String)
        case user(tenantID: String, userID: String)
        case key(String)
        case credential(String)
    }

    private let state = Mutex(State())

    public init() {}

    public func write<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        try state.withLock { state -> T in
            let tx = Transaction(state)
            let result = try body(tx)
            state = tx.state
            return result
        }
    }

    public func listKeys(_ query: KeyQuery) throws -> [APIKey] {
        let keys = state.withLock { Array($0.keys.values) }
        let sorted = keys.filter { query.matches($0) && query.isAfterCursor($0) }.sorted { a, b in
            let va = query.sortValue(of: a)
            let vb = query.sortValue(of: b)
            let ascending = va == vb ? a.id.utf8.lexicographicallyPrecedes(b.id.utf8) : va < vb
            return query.descending ? !ascending : ascending
        }
        return Array(sorted.prefix(query.limit))
    }

    public func listEvents(_ query: EventQuery) throws -> [Event] {
        let events = state.withLock { $0.events }
        let sorted = events.filter { query.matches($0) }.sorted { a, b in
            a.time == b.time ? a.id > b.id : a.time > b.time
        }
        return Array(sorted.prefix(query.limit))
    }

    public func loadSnapshot(_ consume: (SnapshotRecord) throws -> Void) throws {
        let state = state.withLock { $0 }
        try consume(.changePosition(UInt64(state.changeLog.count)))
        for tenant in state.tenants.values { try consume(.tenant(id: tenant.id, settings: tenant.settings)) }
        for users in state.users.values { for user in users.values { try consume(.user(user)) } }
        try consume(.keyCount(state.keys.count))
        for key in state.keys.values {
            try consume(.key(KeySnapshot(
                id: key.id, tenantID: key.tenantID, ownerID: key.ownerID, secretHash: key.secretHash,
                expiresAt: key.expiresAt, revoked: key.revokedAt != nil, expiryRecorded: key.expiryRecorded)))
        }
        for credential in state.credentials.values { try consume(.credential(credential)) }
    }

    public func recordUsage(_ batch: UsageBatch) throws {
        state.withLock { state in
            for usage in batch.usage {
                guard var key = state.keys[usage.keyID] else { continue }
                key.useCount += usage.count
                key.lastUsedAt = max(key.lastUsedAt ?? 0, usage.lastUsedAt)
                state.keys[usage.keyID] = key
            }
            for id in batch.expiryRecorded { state.keys[id]?.expiryRecorded = true }
            let oldest = batch.windows.map(\.window).min() ?? Int64.min
            state.windows = state.windows.filter { $0.key.window >= oldest - 1 }
            for usage in batch.windows where state.keys[usage.keyID] != nil {
                let id = WindowID(keyID: usage.keyID, window: usage.window)
                var window = state.windows[id] ?? (0, false)
                window.count += usage.count
                if window.count > usage.threshold, !window.raised {
                    window.raised = true
                    var event = usage.event
                    event.id = state.nextEventID
                    state.nextEventID += 1
                    state.events.append(event)
                }
                state.windows[id] = window
            }
            for var event in batch.events {
                event.id = state.nextEventID
                state.nextEventID += 1
                state.events.append(event)
            }
        }
    }

    public func deleteEvents(before time: Int64, limit: Int) throws -> Int {
        state.withLock { state in
            let old = state.events.enumerated().filter { $0.element.time < time }
                .sorted { $0.element.time < $1.element.time }.prefix(limit).map(\.offset)
            for offset in old.sorted(by: >) { state.events.remove(at: offset) }
            return old.count
        }
    }

    public func changes(after position: UInt64, limit: Int) throws -> ChangeBatch {
        let state = state.withLock { $0 }
        let start = min(Int(position), state.changeLog.count)
        let end = min(state.changeLog.count, start + limit)
        let tx = Transaction(state)
        let records: [ChangedRecord] = state.changeLog[start..<end].map { change in
            switch change {
            case .tenant(let id): .tenant(id: id, settings: tx.state.tenants[ExactString(id)]?.settings)
            case .user(let tenantID, let userID): .user(tenantID: tenantID, userID: userID, try? tx.user(tenantID: tenantID, userID: userID))
            case .key(let id):
                .key(id: id, tx.state.keys[id].map {
                    KeySnapshot(id: $0.id, tenantID: $0.tenantID, ownerID: $0.ownerID, secretHash: $0.secretHash,
                                expiresAt: $0.expiresAt, revoked: $0.revokedAt != nil, expiryRecorded: $0.expiryRecorded)
                })
            case .credential(let id): .credential(id: id, tx.state.credentials[id])
            }
        }
        return ChangeBatch(position: UInt64(end), records: records, hasMore: end < state.changeLog.count)
    }

    /// Every stored event of every tenant, oldest first; for tests.
    public var allEvents: [Event] { state.withLock { $0.events } }

    // MARK: StoreReader

    public func tenant(id: String) throws -> Tenant? { try read { try $0.tenant(id: id) } }
    public func user(tenantID: String, userID: String) throws -> User? {
        try read { try $0.user(tenantID: tenantID, userID: userID) }
    }
    public func users(tenantID: String) throws -> [User] { try read { try $0.users(tenantID: tenantID) } }
    public func key(id: String) throws -> APIKey? { try read { try $0.key(id: id) } }
    public func keys(tenantID: String, ownerID: String) throws -> [APIKey] {
        try read { try $0.keys(tenantID: tenantID, ownerID: ownerID) }
    }
    public func countActiveKeys(tenantID: String, ownerID: String, asOf: Int64) throws -> Int {
        try read { try $0.countActiveKeys(tenantID: tenantID, ownerID: ownerID, asOf: asOf) }
    }
    public func hasOperatorCredential() throws -> Bool { try read { try $0.hasOperatorCredential() } }
    public func credentials() throws -> [Credential] { try read { try $0.credentials() } }

    private func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        try body(Transaction(state.withLock { $0 }))
    }

    /// The transaction: a private copy of the state.
    final class Transaction: StoreTransaction {
        var state: State

        init(_ state: State) { self.state = state }

        func tenant(id: String) throws -> Tenant? { state.tenants[ExactString(id)] }
        func user(tenantID: String, userID: String) throws -> User? { state.users[ExactString(tenantID)]?[ExactString(userID)] }
        func users(tenantID: String) throws -> [User] {
            (state.users[ExactString(tenantID)].map { Array($0.values) } ?? []).sorted {
                $0.userID.utf8.lexicographicallyPrecedes($1.userID.utf8)
            }
        }
        func key(id: String) throws -> APIKey? { state.keys[id] }
        func keys(tenantID: String, ownerID: String) throws -> [APIKey] {
            state.keys.values.filter { $0.tenantID.isByteEqual(to: tenantID) && $0.ownerID.isByteEqual(to: ownerID) }
                .sorted { $0.createdAt == $1.createdAt ? $0.id < $1.id : $0.createdAt < $1.createdAt }
        }
        func countActiveKeys(tenantID: String, ownerID: String, asOf: Int64) throws -> Int {
            state.keys.values.count {
                $0.tenantID.isByteEqual(to: tenantID) && $0.ownerID.isByteEqual(to: ownerID) && $0.status(at: asOf) == .active
            }
        }
        func hasOperatorCredential() throws -> Bool {
            state.credentials.values.contains { $0.kind == .operator && $0.revokedAt == nil }
        }
        func credentials() throws -> [Credential] {
            state.credentials.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }

        func insertTenant(_ tenant: Tenant) throws {
            guard state.tenants[ExactString(tenant.id)] == nil else { throw InMemoryStoreError.duplicate("tenant \(tenant.id)") }
            state.tenants[ExactString(tenant.id)] = tenant
            state.changeLog.append(.tenant(tenant.id))
        }
        func updateSettings(tenantID: String, _ settings: TenantSettings) throws {
            state.tenants[ExactString(tenantID)]?.settings = settings
            state.changeLog.append(.tenant(tenantID))
        }
        func insertUser(_ user: User) throws {
            guard state.users[ExactString(user.tenantID)]?[ExactString(user.userID)] == nil else {
                throw InMemoryStoreError.duplicate("user \(user.userID)")
            }
            state.users[ExactString(user.tenantID), default: [:]][ExactString(user.userID)] = user
            state.changeLog.append(.user(tenantID: user.tenantID, userID: user.userID))
        }
        func updateUser(_ user: User) throws {
            state.users[ExactString(user.tenantID)]?[ExactString(user.userID)] = user
            state.changeLog.append(.user(tenantID: user.tenantID, userID: user.userID))
        }
        func deleteUser(tenantID: String, userID: String) throws {
            state.users[ExactString(tenantID)]?[ExactString(userID)] = nil
            state.changeLog.append(.user(tenantID: tenantID, userID: userID))
        }
        func insertKey(_ key: APIKey) throws {
            guard state.keys[key.id] == nil else { throw InMemoryStoreError.duplicate("key \(key.id)") }
            state.keys[key.id] = key
            state.changeLog.append(.key(key.id))
        }
        func updateKey(_ key: APIKey) throws {
            guard var stored = state.keys[key.id] else { return }
            stored.name = key.name
            stored.updatedAt = key.updatedAt
            stored.revokedAt = key.revokedAt
            stored.revokeReason = key.revokeReason
            state.keys[key.id] = stored
            state.changeLog.append(.key(key.id))
        }
        func deleteKey(id: String) throws {
            state.keys[id] = nil
            state.changeLog.append(.key(id))
        }
        func insertEvent(_ event: Event) throws -> UInt64 {
            var event = event
            event.id = state.nextEventID
            state.nextEventID += 1
            state.events.append(event)
            return event.id
        }
        func addToEventCount(id: UInt64, _ count: UInt64) throws {
            if let i = state.events.firstIndex(where: { $0.id == id }) { state.events[i].count += count }
        }
        func insertCredential(_ credential: Credential) throws {
            state.credentials[credential.id] = credential
            state.changeLog.append(.credential(credential.id))
        }
        func revokeCredential(id: String, at time: Int64) throws {
            state.credentials[id]?.revokedAt = time
            state.changeLog.append(.credential(id))
        }
    }
}

/// A constraint the in-memory store enforces like a database would.
public enum InMemoryStoreError: Error, Sendable {
    case duplicate(String)
}
