/// X8, X9: the hot path and the usage flush.
extension APIKeyService {
    /// X8: verifies a presented API-key secret for an internal service and returns the
    /// principal, or UNAUTHENTICATED with reason unknown, expired, revoked or disabled.
    ///
    /// Reads memory only under a short lock; counts the use (X9) and raises
    /// `key.verify_failed`, `key.expired` and `key.excessive_use` events, stored by ``flushPending()``.
    public func verify(_ secret: String, verifier: Caller) throws(DomainError) -> Principal {
        try checkFreshness()
        guard let parsed = SecretCodec.parse(secret, as: .apiKey) else { throw VerifyFailure.unknown.error }
        switch index.verify(parsed, now: now, actor: verifier.actor) {
        case .success(let principal):
            // X18: a service limited to some tenants learns nothing of other tenants' keys.
            if let tenants = verifier.service?.tenants, !tenants.isEmpty,
               !tenants.contains(where: { $0.isByteEqual(to: principal.tenantID) }) {
                throw VerifyFailure.unknown.error
            }
            return principal
        case .failure(let failure): throw failure.error
        }
    }

    /// Stores the usage counters and verify-side events gathered in memory, and the counts of
    /// merged refusals (X20), in transactions
    /// of at most ``usageRowsPerTransaction`` keys, so that a flush after a busy second never
    /// holds the store's write lock for long. Call every second and at shutdown: a crash loses
    /// at most that much usage, never a key, revocation, setting or role. On failure what was
    /// not stored is kept for the next call.
    /// Returns how many usage rows and events it wrote (the flush batch size metric).
    @discardableResult
    public func flushPending() throws(DomainError) -> Int {
        let written = try flushUsage()
        try flushRefusalCounts()
        return written
    }

    private func flushUsage() throws(DomainError) -> Int {
        var batch = index.takeBatch()
        guard !batch.isEmpty else { return 0 }
        // X17: verify-side events come from the verifying service (or the caller that
        // observed an expiry) and say so, like every other event.
        for i in batch.events.indices where batch.events[i].details["via"] == nil {
            batch.events[i].details["via"] = batch.events[i].actor
        }
        // Parts of at most usageRowsPerTransaction usage rows and as many window rows.
        let size = Self.usageRowsPerTransaction
        let parts = max(1, (max(batch.usage.count, batch.windows.count) + size - 1) / size)
        for part in 0..<parts {
            let usage = batch.usage[min(batch.usage.count, part * size)..<min(batch.usage.count, (part + 1) * size)]
            let windows = batch.windows[min(batch.windows.count, part * size)..<min(batch.windows.count, (part + 1) * size)]
            // The events go with the first transaction.
            let slice = UsageBatch(usage: Array(usage), windows: Array(windows),
                                   events: part == 0 ? batch.events : [],
                                   expiryRecorded: part == 0 ? batch.expiryRecorded : [])
            do {
                try store.recordUsage(slice)
            } catch {
                index.restore(UsageBatch(
                    usage: Array(batch.usage[usage.startIndex...]), windows: Array(batch.windows[windows.startIndex...]),
                    events: slice.events, expiryRecorded: slice.expiryRecorded))
                throw .internal(error)
            }
            index.settled(slice.usage)
        }
        return batch.usage.count + batch.events.count
    }

    static let usageRowsPerTransaction = 4_096

    /// X20: adds the refusals merged since the last flush to their stored events' counts.
    private func flushRefusalCounts() throws(DomainError) {
        let counts = refusals.takeCounts(window: now / VerificationIndex.windowMilliseconds)
        guard !counts.isEmpty else { return }
        do {
            try store.write { tx in
                for count in counts { try tx.addToEventCount(id: count.eventID, count.count) }
            }
        } catch {
            refusals.restore(counts)
            throw .internal(error)
        }
    }

    /// Reloads the verification index from the store, e.g. after another server changed it.
    /// Flushes pending usage first, and holds the write lock so no commit of this server
    /// lands between reading the snapshot and installing it.
    public func reloadIndex() throws(DomainError) {
        try flushPending()
        let started = now
        do { _ = try withWriteLock { try index.load(from: store) } } catch { throw .internal(error) }
        freshness.confirm(at: started)
    }
}
