/// X21: several servers on one shared store. Each keeps its verification index current from
/// the store's change log, and stops answering Verify from memory once it has not been able
/// to read that log for longer than the staleness limit (fail closed).
extension APIKeyService {
    /// Reads the changes other servers committed since the last call and applies them to the
    /// verification index; returns how many records changed. Call after every notification,
    /// after a reconnect and at a short interval. A no-op on a store that is not shared.
    @discardableResult
    public func catchUp() throws(DomainError) -> Int {
        guard let shared = store as? any SharedKeyStore else { return 0 }
        let started = now
        do {
            // Under the write lock: a local commit never lands between reading a record's
            // state and applying it, so the index never goes back to an older state.
            let applied = try withWriteLock { () throws -> Int in
                var total = 0
                var batch: ChangeBatch
                repeat {
                    batch = try shared.changes(after: index.changePosition, limit: Self.changesPerRead)
                    index.apply(batch.records.map(Self.indexChange), position: batch.position)
                    total += batch.records.count
                } while batch.hasMore
                return total
            }
            freshness.confirm(at: started)
            return applied
        } catch {
            throw .internal(error)
        }
    }

    static let changesPerRead = 10_000

    /// Milliseconds since the index was last known to hold every committed change (0 on a
    /// store that is not shared: the index is updated by this process's own commits).
    public var staleness: Int64 {
        guard store is any SharedKeyStore else { return 0 }
        return max(0, now - freshness.confirmedAt)
    }

    /// X21: UNAVAILABLE once the index may be older than the limit (Verify, and readiness).
    public func checkFreshness() throws(DomainError) {
        guard freshness.isShared else { return }
        let age = now - freshness.confirmedAt
        guard age <= freshness.maxStaleness else {
            throw DomainError(
                .unavailable,
                "verification is unavailable: this server has not reached the store for \(age / 1000) s (limit \(freshness.maxStaleness / 1000) s); try again shortly",
                rule: "X21", reason: "store_unreachable")
        }
    }

    private static func indexChange(_ record: ChangedRecord) -> VerificationIndex.Change {
        switch record {
        case .tenant(let id, let settings):
            // Tenants are never deleted: a missing one keeps the defaults of an unknown tenant.
            return .tenant(id: id, settings: settings ?? TenantSettings(apiKeysEnabled: false))
        case .user(let tenantID, let userID, let user):
            return user.map(VerificationIndex.Change.user) ?? .userRemoved(tenantID: tenantID, userID: userID)
        case .key(let id, let key):
            return key.map(VerificationIndex.Change.keySnapshot) ?? .keyRemoved(id: id)
        case .credential(let id, let credential):
            return credential.map(VerificationIndex.Change.credential) ?? .credentialRemoved(id: id)
        }
    }
}
