import Synchronization

/// The in-memory state verification reads, so that Verify never waits on disk (X8).
///
/// Loaded from the store at start-up and updated by the service after every committed
/// write (under the service's write lock, so commits apply in order): a revoke, delete,
/// user removal or disable is seen by the very next verification. Also counts usage and
/// raises verify-side events (X9, X10) until ``takeBatch()`` hands them to the store.
final class VerificationIndex: Sendable {
    /// Verify failures of one key already recorded in `window`, one bit per reason: kept
    /// apart from the keys (few keys fail; every key would pay for the fields).
    struct RecordedFailures {
        var window: Int64
        var reasons: UInt8
    }

    struct TenantEntry {
        var enabled: Bool
        var threshold: UInt32
    }

    /// X9 usage of one key since the last flush, with its counts per one-minute window (the
    /// store adds those up over every server to decide excessive use).
    struct PendingUsage {
        var count: UInt64 = 0
        var lastUsedAt: Int64 = 0
        /// The latest window with uses, and the one before it if a flush spans a minute boundary.
        var window: Int64 = -1
        var windowCount: UInt64 = 0
        var previousWindow: Int64 = -1
        var previousWindowCount: UInt64 = 0
        /// The first service that verified the key since the last flush: the actor of an
        /// excessive-use event.
        var verifier = ""
        /// The key's tenant and owner, for that event: kept here so that a flush needs no
        /// lookup in the index (and no time under its lock) per key.
        var tenantID = ""
        var ownerID = ""

        mutating func record(at now: Int64, by actor: String, tenantID: String, ownerID: String) {
            // Strings only on the first use in a flush interval: each assignment is a retain
            // and a release, on every Verify call.
            if count == 0 {
                verifier = actor
                self.tenantID = tenantID
                self.ownerID = ownerID
            }
            count += 1
            lastUsedAt = max(lastUsedAt, now)
            add(window: now / VerificationIndex.windowMilliseconds, count: 1)
        }

        mutating func add(_ other: PendingUsage) {
            if count == 0 {
                tenantID = other.tenantID
                ownerID = other.ownerID
            }
            count += other.count
            lastUsedAt = max(lastUsedAt, other.lastUsedAt)
            if verifier.isEmpty { verifier = other.verifier }
            if other.previousWindowCount > 0 { add(window: other.previousWindow, count: other.previousWindowCount) }
            if other.windowCount > 0 { add(window: other.window, count: other.windowCount) }
        }

        private mutating func add(window: Int64, count: UInt64) {
            if window == self.window {
                windowCount += count
            } else if window == previousWindow {
                previousWindowCount += count
            } else if window > self.window {
                // Windows older than the previous one are over: their excessive use was decided.
                (previousWindow, previousWindowCount) = windowCount > 0 ? (self.window, windowCount) : (-1, 0)
                (self.window, windowCount) = (window, count)
            } else if previousWindowCount == 0 || window > previousWindow {
                // A failed flush's counts, put back behind newer uses.
                (previousWindow, previousWindowCount) = (window, count)
            }
        }
    }

    /// X15: byte for byte, so two canonically equivalent user IDs are never one entry.
    struct UserKey: Hashable {
        var tenantID: ExactString
        var userID: ExactString

        init(tenantID: String, userID: String) {
            self.tenantID = ExactString(tenantID)
            self.userID = ExactString(userID)
        }
    }

    struct State {
        var keys = KeyTable()
        var failures: [CompactID: RecordedFailures] = [:]
        /// The newest window a failure was recorded in, and the one the marks were last
        /// pruned at: marks of windows before it can no longer suppress an event.
        var latestFailureWindow: Int64 = -1
        var failuresPrunedAt: Int64 = -1
        var tenants: [ExactString: TenantEntry] = [:]
        var users: [UserKey: User] = [:]
        var credentials: [CompactID: Credential] = [:]
        /// Usage since the last flush: swapped out whole by ``takeBatch()``, so the flush holds
        /// the lock for a moment however many keys were used.
        var pending: [CompactID: PendingUsage] = [:]
        /// Usage taken by a flush and not yet committed: still shown by ``pendingUsage(keyID:)``
        /// so that a key's count never dips while the flush runs.
        var inFlight: [CompactID: PendingUsage] = [:]
        /// The previous flush's emptied table, kept for its capacity.
        var spare: [CompactID: PendingUsage]?
        var events: [Event] = []
        var expiryRecorded: [String] = []
        /// X21: the shared store's change-log position this state includes.
        var changePosition: UInt64 = 0
    }

    /// A change to apply after a commit.
    enum Change {
        case tenant(id: String, settings: TenantSettings)
        case user(User)
        case userRemoved(tenantID: String, userID: String)
        case key(APIKey)
        case keyRemoved(id: String)
        /// Another server's key change (X21), as the change log reports it.
        case keySnapshot(KeySnapshot)
        case credential(Credential)
        case credentialRemoved(id: String)
    }

    static let windowMilliseconds: Int64 = 60_000
    static let keyPrefix = SecretCodec.Kind.apiKey.idPrefix

    private let state = Mutex(State())

    /// Keys in the index (the index size metric).
    var keyCount: Int { state.withLock { $0.keys.count } }
    /// Bumped on every credential change, so callers caching a resolved credential see revocations (X18).
    let credentialsVersion = Atomic<Int>(0)

    init() {}

    // MARK: Loading and changes

    /// Replaces the index with the store's snapshot. Returns the stored identifiers that break
    /// X15: users whose ID is not NFC are left out (their keys no longer authenticate, and
    /// no call can name them), so only the NFC spelling of an equivalent pair is reachable.
    @discardableResult
    func load(from store: any KeyStore) throws -> [IdentifierProblem] {
        var fresh = State()
        var check = IdentifierCheck()
        try store.loadSnapshot { record in
            switch record {
            case .keyCount(let count):
                fresh.keys = KeyTable(capacity: count)
            case .tenant(let id, let settings):
                fresh.tenants[ExactString(id)] = TenantEntry(enabled: settings.apiKeysEnabled, threshold: settings.excessiveUsePerMinute)
            case .user(let user):
                guard check.admit(tenantID: user.tenantID, userID: user.userID) else { return }
                fresh.users[UserKey(tenantID: user.tenantID, userID: user.userID)] = user
            case .key(let key):
                guard let id = CompactID(key.id, prefix: Self.keyPrefix) else { return }
                fresh.keys.appendUnindexed(id, hash: key.secretHash, expiresAt: key.expiresAt, tenantID: key.tenantID,
                                           ownerID: key.ownerID, revoked: key.revoked, expiryRecorded: key.expiryRecorded)
            case .credential(let credential):
                guard let id = CompactID(credential.id, prefix: credential.codecKind.idPrefix) else { return }
                fresh.credentials[id] = credential
            case .changePosition(let position):
                fresh.changePosition = position
            }
        }
        fresh.keys.indexLoaded()
        state.withLock { $0 = fresh }
        credentialsVersion.add(1, ordering: .releasing)
        return check.problems
    }

    func apply(_ changes: [Change]) {
        guard !changes.isEmpty else { return }
        state.withLock { state in
            for change in changes {
                switch change {
                case .tenant(let id, let settings):
                    state.tenants[ExactString(id)] = TenantEntry(enabled: settings.apiKeysEnabled, threshold: settings.excessiveUsePerMinute)
                case .user(let user):
                    state.users[UserKey(tenantID: user.tenantID, userID: user.userID)] = user
                case .userRemoved(let tenantID, let userID):
                    state.users[UserKey(tenantID: tenantID, userID: userID)] = nil
                case .key(let key):
                    guard let id = CompactID(key.id, prefix: Self.keyPrefix) else { continue }
                    if let position = state.keys.position(of: id) {
                        state.keys[position: position].revoked = key.revokedAt != nil
                        state.keys[position: position].expiresAt = key.expiresAt
                    } else {
                        state.keys.set(id, hash: key.secretHash, expiresAt: key.expiresAt, tenantID: key.tenantID,
                                       ownerID: key.ownerID, revoked: key.revokedAt != nil, expiryRecorded: key.expiryRecorded)
                    }
                case .keySnapshot(let key):
                    guard let id = CompactID(key.id, prefix: Self.keyPrefix) else { continue }
                    if let position = state.keys.position(of: id) {
                        state.keys[position: position].revoked = key.revoked
                        state.keys[position: position].expiresAt = key.expiresAt
                        state.keys[position: position].expiryRecorded = state.keys[position: position].expiryRecorded || key.expiryRecorded
                    } else {
                        state.keys.set(id, hash: key.secretHash, expiresAt: key.expiresAt, tenantID: key.tenantID,
                                       ownerID: key.ownerID, revoked: key.revoked, expiryRecorded: key.expiryRecorded)
                    }
                case .keyRemoved(let keyID):
                    if let id = CompactID(keyID, prefix: Self.keyPrefix) {
                        state.keys.remove(id)
                        state.failures[id] = nil
                        state.pending[id] = nil
                        state.inFlight[id] = nil
                    }
                case .credential(let credential):
                    if let id = CompactID(credential.id, prefix: credential.codecKind.idPrefix) {
                        state.credentials[id] = credential
                    }
                    credentialsVersion.add(1, ordering: .releasing)
                case .credentialRemoved(let credentialID):
                    for prefix in [SecretCodec.Kind.operator.idPrefix, SecretCodec.Kind.service.idPrefix] {
                        if let id = CompactID(credentialID, prefix: prefix) { state.credentials[id] = nil }
                    }
                    credentialsVersion.add(1, ordering: .releasing)
                }
            }
        }
    }

    /// X21: the shared store's change-log position this index includes.
    var changePosition: UInt64 {
        get { state.withLock { $0.changePosition } }
    }

    /// Applies another server's changes and moves the position past them, at once.
    func apply(_ changes: [Change], position: UInt64) {
        apply(changes)
        state.withLock { $0.changePosition = max($0.changePosition, position) }
    }

    // MARK: Reads for caller resolution (X13)

    func user(tenantID: String, userID: String) -> User? {
        state.withLock { $0.users[UserKey(tenantID: tenantID, userID: userID)] }
    }

    /// R14: whether API keys are enabled in the tenant; nil for an unknown tenant.
    func apiKeysEnabled(tenantID: String) -> Bool? {
        state.withLock { $0.tenants[ExactString(tenantID)]?.enabled }
    }

    /// The credential a well-formed credential secret opens, compared in constant time (X7).
    func credential(for parsed: SecretCodec.Parsed) -> Credential? {
        state.withLock { state in
            guard let credential = state.credentials[parsed.id], credential.codecKind == parsed.kind,
                  credential.revokedAt == nil, credential.secretHash.constantTimeEquals(parsed.hash)
            else { return nil }
            return credential
        }
    }

    /// Usage counted since the last flush, to show current figures before they are stored.
    func pendingUsage(keyID: String) -> (count: UInt64, lastUsedAt: Int64)? {
        guard let id = CompactID(keyID, prefix: Self.keyPrefix) else { return nil }
        return state.withLock { state in
            let pending = state.pending[id] ?? PendingUsage()
            let inFlight = state.inFlight[id] ?? PendingUsage()
            guard pending.count + inFlight.count > 0 else { return nil }
            return (pending.count + inFlight.count, max(pending.lastUsedAt, inFlight.lastUsedAt))
        }
    }

    // MARK: Verification (X8, X9)

    /// Checks a parsed API-key secret at `now`; on success counts a use. Raises the events
    /// `key.verify_failed` (at most once per key, reason and minute), `key.expired` (first
    /// observation) and `key.excessive_use` (once per key and minute), recorded as `actor`.
    func verify(_ parsed: SecretCodec.Parsed, now: Int64, actor: String) -> Result<Principal, VerifyFailure> {
        state.withLock { state in
            // One hash lookup per call: the entry is read and written back through its index.
            guard let position = state.keys.position(of: parsed.id) else { return .failure(.unknown) }
            let entry = state.keys[position: position]
            let tenantID = state.keys.string(entry.tenant), ownerID = state.keys.string(entry.owner)
            let tenant = state.tenants[ExactString(tenantID)]
            let window = now / Self.windowMilliseconds
            var failure: VerifyFailure?
            if !entry.hash.constantTimeEquals(parsed.hash) {
                failure = .unknown
            } else if entry.revoked {
                failure = .revoked
            } else if now >= entry.expiresAt {
                failure = .expired
                if !entry.expiryRecorded {
                    state.keys[position: position].expiryRecorded = true
                    Self.raiseExpired(id: parsed.id, tenantID: tenantID, ownerID: ownerID, expiresAt: entry.expiresAt,
                                      now: now, actor: actor, into: &state)
                }
            } else if tenant?.enabled != true {
                failure = .disabled
            }
            let user = failure == nil ? state.users[UserKey(tenantID: tenantID, userID: ownerID)] : nil
            if failure == nil, user == nil { failure = .revoked }  // X14: an owner no longer in the directory
            guard let user else {
                let reason = failure ?? .unknown
                var recorded = state.failures[parsed.id] ?? RecordedFailures(window: -1, reasons: 0)
                if recorded.window != window { recorded = RecordedFailures(window: window, reasons: 0) }
                state.latestFailureWindow = max(state.latestFailureWindow, window)
                if recorded.reasons & reason.bit == 0 {
                    recorded.reasons |= reason.bit
                    state.failures[parsed.id] = recorded
                    state.events.append(Event(
                        time: now, tenantID: tenantID, actor: actor, action: EventAction.keyVerifyFailed,
                        keyID: parsed.id.string(prefix: Self.keyPrefix), outcome: .denied,
                        details: ["reason": reason.rawValue, "rule": reason.error.rule]))
                }
                return .failure(reason)
            }
            // X9: usage, counted per window; the flush lets the store decide excessive use
            // from every server's counts.
            state.pending[parsed.id, default: PendingUsage()].record(at: now, by: actor, tenantID: tenantID, ownerID: ownerID)
            return .success(Principal(
                tenantID: tenantID, userID: ownerID,
                keyID: parsed.id.string(prefix: Self.keyPrefix),
                roles: user.roles.sortedNames, expiresAt: entry.expiresAt))
        }
    }

    /// X10: records `key.expired` for keys seen expired by a read (Get, List) for the first time.
    func observeExpired(_ keys: [APIKey], now: Int64, actor: String) {
        let expired = keys.filter { !$0.expiryRecorded && $0.status(at: now) == .expired }
        guard !expired.isEmpty else { return }
        state.withLock { state in
            for key in expired {
                guard let id = CompactID(key.id, prefix: Self.keyPrefix), let position = state.keys.position(of: id),
                      !state.keys[position: position].expiryRecorded
                else { continue }
                state.keys[position: position].expiryRecorded = true
                let entry = state.keys[position: position]
                Self.raiseExpired(id: id, tenantID: state.keys.string(entry.tenant), ownerID: state.keys.string(entry.owner),
                                  expiresAt: entry.expiresAt, now: now, actor: actor, into: &state)
            }
        }
    }

    private static func raiseExpired(id: CompactID, tenantID: String, ownerID: String, expiresAt: Int64, now: Int64,
                                     actor: String, into state: inout State) {
        let keyID = id.string(prefix: keyPrefix)
        state.expiryRecorded.append(keyID)
        state.events.append(Event(
            time: now, tenantID: tenantID, actor: actor, action: EventAction.keyExpired, keyID: keyID,
            outcome: .success, details: ["rule": "R8", "owner": ownerID, "expires_at_ms": String(expiresAt)]))
    }

    // MARK: Flushing

    /// Takes the usage and events gathered since the last call. The usage stays visible as in
    /// flight until ``settled(_:)`` (stored) or ``restore(_:)`` (not stored).
    func takeBatch() -> UsageBatch {
        var batch = UsageBatch()
        let taken = state.withLock { state in
            var taken = state.spare ?? [:]
            state.spare = nil
            swap(&taken, &state.pending)
            if state.inFlight.isEmpty {
                state.inFlight = taken
            } else {
                // Another flush is still running (e.g. a reload's): keep both visible.
                for (id, usage) in taken { state.inFlight[id, default: PendingUsage()].add(usage) }
            }
            // Once a minute: failure marks of past windows go (they only suppress repeats
            // within their own window).
            if state.failuresPrunedAt != state.latestFailureWindow {
                let current = state.latestFailureWindow
                state.failures = state.failures.filter { $0.value.window >= current }
                state.failuresPrunedAt = current
            }
            swap(&batch.events, &state.events)
            swap(&batch.expiryRecorded, &state.expiryRecorded)
            // Only swaps under the lock that Verify takes: the per-key work (tens of thousands
            // of keys a second) is done after it. The tenants are shared, not copied: Verify
            // only reads them, and settings change rarely.
            return (pending: taken, tenants: state.tenants)
        }
        batch.windows = Self.windowUsage(taken.pending, tenants: taken.tenants)
        batch.usage.reserveCapacity(taken.pending.count)
        for (id, usage) in taken.pending {
            batch.usage.append(UsageBatch.Usage(keyID: id.string(prefix: Self.keyPrefix), lastUsedAt: usage.lastUsedAt, count: usage.count))
        }
        return batch
    }

    /// X9: each key's window counts, with the threshold its tenant has now and the event to
    /// store if the deployment's total crosses it.
    private static func windowUsage(_ taken: [CompactID: PendingUsage], tenants: [ExactString: TenantEntry]) -> [UsageBatch.WindowUsage] {
        var windows: [UsageBatch.WindowUsage] = []
        windows.reserveCapacity(taken.count)
        for (id, usage) in taken {
            let threshold = UInt64(tenants[ExactString(usage.tenantID)]?.threshold ?? UInt32.max)
            let keyID = id.string(prefix: keyPrefix)
            if usage.previousWindowCount > 0 {
                windows.append(UsageBatch.WindowUsage(
                    keyID: keyID, window: usage.previousWindow, count: usage.previousWindowCount, threshold: threshold,
                    tenantID: usage.tenantID, ownerID: usage.ownerID, actor: usage.verifier,
                    time: (usage.previousWindow + 1) * windowMilliseconds - 1))
            }
            if usage.windowCount > 0 {
                windows.append(UsageBatch.WindowUsage(
                    keyID: keyID, window: usage.window, count: usage.windowCount, threshold: threshold,
                    tenantID: usage.tenantID, ownerID: usage.ownerID, actor: usage.verifier, time: usage.lastUsedAt))
            }
        }
        return windows
    }

    /// Usage the store has committed: no longer counted as in flight.
    func settled(_ usage: [UsageBatch.Usage]) {
        let ids = usage.compactMap { CompactID($0.keyID, prefix: Self.keyPrefix) }
        state.withLock { state in
            for id in ids { state.inFlight.removeValue(forKey: id) }
            if state.inFlight.isEmpty, state.spare == nil {
                state.spare = state.inFlight  // empty, with the capacity of a busy second
                state.inFlight = [:]
            }
        }
    }

    /// Puts back a batch the store failed to record, to try again at the next flush.
    func restore(_ batch: UsageBatch) {
        state.withLock { state in
            for usage in batch.usage {
                guard let id = CompactID(usage.keyID, prefix: Self.keyPrefix) else { continue }
                state.inFlight.removeValue(forKey: id)
                guard state.keys.position(of: id) != nil else { continue }
                state.pending[id, default: PendingUsage()].add(PendingUsage(count: usage.count, lastUsedAt: usage.lastUsedAt))
            }
            for window in batch.windows {
                guard let id = CompactID(window.keyID, prefix: Self.keyPrefix), state.keys.position(of: id) != nil else { continue }
                var counts = PendingUsage()
                (counts.window, counts.windowCount, counts.verifier) = (window.window, window.count, window.event.actor)
                state.pending[id, default: PendingUsage()].add(counts)
            }
            state.events.insert(contentsOf: batch.events, at: 0)
            state.expiryRecorded.insert(contentsOf: batch.expiryRecorded, at: 0)
        }
    }
}
