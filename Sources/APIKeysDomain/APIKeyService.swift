import Synchronization

/// The entry point the server calls: every rule of the spec (R1–R19, X1–X14) over a ``KeyStore``.
///
/// ```swift
/// let service = try APIKeyService(store: store)          // loads the verification index
/// if let operatorSecret = try service.bootstrap() { print once }
/// let caller = try service.resolveCaller(authorization: auth, tenantID: tid, userID: uid)
/// let generated = try service.generate(caller, name: "ci", expiry: .tenantMaximum)
/// ```
///
/// Methods are synchronous and may block on the store: call them off the event loop.
/// ``verify(_:verifier:)`` never touches the store. Call ``flushPending()`` every second and
/// at shutdown to store usage counters and the events verification raised.
/// All methods throw only ``DomainError``.
public final class APIKeyService: Sendable {
    public let store: any KeyStore
    public let clock: any DomainClock
    let index = VerificationIndex()
    /// Every write transaction, grouped with concurrent ones when the store shares commits.
    private let writes: GroupCommit
    /// Credentials from the server's configuration (X13): never stored, matched by hash.
    let configuredCredentials = Mutex<[Credential]>([])
    /// X20: refusals merged per actor, action, reason and minute.
    let refusals = RefusalLog()
    /// X15: stored user IDs that are not NFC, found by the start-up load (log them).
    public let identifierProblems: [IdentifierProblem]
    /// X21: when the index last held every change of a shared store.
    let freshness: Freshness

    /// Loads the verification index from `store`. With `maxStaleness` (a server on a
    /// ``SharedKeyStore``), Verify answers UNAVAILABLE once the index has not caught up with
    /// the store's change log for that long (X21).
    public init(
        store: any KeyStore, clock: any DomainClock = SystemClock(), maxStaleness: Duration? = nil
    ) throws(DomainError) {
        self.store = store
        self.clock = clock
        writes = GroupCommit(store: store, index: index)
        let loadStarted = clock.nowMilliseconds
        freshness = Freshness(
            isShared: maxStaleness != nil && store is any SharedKeyStore,
            maxStaleness: maxStaleness.map { $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 } ?? .max,
            confirmedAt: loadStarted)
        do { identifierProblems = try index.load(from: store) } catch { throw .internal(error) }
    }

    var now: Int64 { clock.nowMilliseconds }

    /// Changes whenever a credential is created, rotated or revoked (X18).
    public var credentialsVersion: Int { index.credentialsVersion.load(ordering: .acquiring) }

    /// Write transactions committed so far and the writes they held (group commit: more
    /// writes than commits when concurrent writes shared one).
    public var writeCommits: (commits: Int, writes: Int) {
        (writes.commits.load(ordering: .relaxed), writes.writesCommitted.load(ordering: .relaxed))
    }

    /// Keys in the verification index, revoked and expired ones included.
    public var indexedKeyCount: Int { index.keyCount }

    /// Runs `body` in one store transaction and applies its index changes after the commit.
    func commit<T: Sendable>(
        _ body: (any StoreTransaction, inout [VerificationIndex.Change]) throws -> T
    ) throws -> T {
        try writes.run(body)
    }

    func withWriteLock<T>(_ body: () throws -> T) throws -> T {
        try writes.exclusively(body)
    }

    /// Runs a write; a refusal rolls it back and is then recorded as an event of its own (X10).
    func perform<T: Sendable>(
        _ caller: Caller, operation: String, tenantID: String? = nil, keyID: String? = nil,
        _ body: (any StoreTransaction, inout [VerificationIndex.Change]) throws -> T
    ) throws(DomainError) -> T {
        do {
            return try commit { tx, changes in
                try credentialIsCurrent(caller, in: tx)
                return try body(tx, &changes)
            }
        } catch let error as DomainError {
            recordRefusal(error, caller: caller, operation: operation, tenantID: tenantID, keyID: keyID)
            throw error
        } catch {
            throw .internal(error)
        }
    }

    /// Runs a read; a refusal is recorded as an event (X10).
    func reading<T>(
        _ caller: Caller, operation: String, keyID: String? = nil, _ body: () throws -> T
    ) throws(DomainError) -> T {
        do {
            return try body()
        } catch let error as DomainError {
            recordRefusal(error, caller: caller, operation: operation, tenantID: nil, keyID: keyID)
            throw error
        } catch {
            throw .internal(error)
        }
    }

    /// X10: a refusal is an event in the caller's tenant (or the tenant an operator acted on).
    /// PERMISSION_DENIED is `permission.denied`; anything else carries the operation's action.
    /// X20: merged with the same actor's refusals of that action and reason in this minute.
    func recordRefusal(_ error: DomainError, caller: Caller, operation: String, tenantID: String?, keyID: String?) {
        guard error.code != .internal, let tenantID = tenantID ?? caller.tenantID else { return }
        storeRefusal(refusalEvent(error, caller: caller, operation: operation, tenantID: tenantID, keyID: keyID, at: now))
    }

    /// The event that records a refusal (X10).
    func refusalEvent(
        _ error: DomainError, caller: Caller, operation: String, tenantID: String, keyID: String?, at time: Int64
    ) -> Event {
        var details = caller.eventDetails
        details["reason"] = error.reason
        details["rule"] = error.rule
        details["message"] = error.message
        let action: String
        let outcome: Event.Outcome
        if error.code == .permissionDenied {
            action = EventAction.permissionDenied
            outcome = .denied
            details["operation"] = operation
        } else {
            action = operation
            let ruleRefused: Set<DomainError.Code> = [.failedPrecondition, .resourceExhausted, .alreadyExists]
            outcome = ruleRefused.contains(error.code) ? .denied : .failure
        }
        // The key ID is the caller's text when the refusal is that it names no key.
        return Event(time: time, tenantID: tenantID, actor: caller.actor, action: action,
                     keyID: keyID.map(Validation.escapingControls), outcome: outcome, details: details)
    }

    /// X20: stores `event` (a refusal standing for `count` of them) unless this minute already
    /// has one of the same tenant, actor, action and reason; then only its count grows (stored
    /// by the next ``flushPending()``). Best effort: the refusal itself is what the caller must get.
    func storeRefusal(_ event: Event, count: UInt64 = 1) {
        let key = RefusalLog.Key(
            tenantID: ExactString(event.tenantID), actor: ExactString(event.actor), action: event.action,
            operation: event.details["operation"] ?? "", reason: event.details["reason"] ?? "")
        let window = event.time / VerificationIndex.windowMilliseconds
        guard refusals.note(key, window: window, count: count) else { return }
        var event = event
        event.count = count
        let id = try? store.write { tx in try tx.insertEvent(event) }
        refusals.stored(key, window: window, eventID: id)
    }

    /// An event of `caller` at `time`, carrying the caller's details (the service a member came through).
    func event(
        _ caller: Caller, tenantID: String, action: String, keyID: String? = nil,
        outcome: Event.Outcome = .success, details: [String: String] = [:], at time: Int64
    ) -> Event {
        Event(
            time: time, tenantID: tenantID, actor: caller.actor, action: action, keyID: keyID,
            outcome: outcome, details: caller.eventDetails.merging(details) { _, new in new })
    }

    /// X7: creates the operator credential on a store that has none and returns its secret,
    /// once. Nil when one exists already.
    public func bootstrap() throws(DomainError) -> String? {
        let secret: String? = try perform(.operator, operation: "bootstrap") { tx, changes -> String? in
            guard try !tx.hasOperatorCredential() else { return nil }
            let generated = SecretCodec.generate(.operator)
            let credential = Credential(
                id: generated.id, kind: .operator, name: "operator", secretHash: generated.hash, createdAt: now)
            try tx.insertCredential(credential)
            // X18: the operator's audit log starts with the credential the first start made.
            var details = Self.auditDetails(credential)
            details["via"] = "bootstrap"
            try tx.insertEvent(event(.operatorCredential(id: credential.id), tenantID: "", action: EventAction.credentialCreated, details: details, at: credential.createdAt))
            changes.append(.credential(credential))
            return generated.secret
        }
        return secret
    }
}
