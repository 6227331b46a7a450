/// R9, X10: a tenant admin reviews the tenant's events.
extension APIKeyService {
    /// Newest first, filtered by key ID, action, actor and an inclusive time range.
    public func listEvents(_ caller: Caller, _ request: EventListRequest) throws(DomainError) -> EventPage {
        // X18: the operator reads the operator's audit log, the events of no tenant.
        let tenantID = try authorize(caller, .listEvents)?.tenantID ?? ""
        return try reading(caller, operation: "event.list") {
            let size = try Validation.pageSize(request.pageSize)
            let fingerprint = PageToken.fingerprint([
                tenantID, request.keyID, request.action, request.actor, String(request.since), String(request.until),
            ])
            var query = EventQuery(
                tenantID: tenantID,
                keyID: request.keyID.isEmpty ? nil : request.keyID,
                action: request.action.isEmpty ? nil : request.action,
                actor: request.actor.isEmpty ? nil : request.actor,
                since: request.since == 0 ? nil : request.since,
                until: request.until == 0 ? nil : request.until,
                limit: size + 1)
            if !request.pageToken.isEmpty {
                let token = try PageToken.decode(request.pageToken, as: PageToken.EventToken.self, fingerprint: fingerprint)
                query.before = EventCursor(time: token.t, id: token.i)
            }
            var events = try store.listEvents(query)
            var next = ""
            if events.count > size {
                events.removeLast(events.count - size)
                let last = events[events.count - 1]
                next = PageToken.encode(PageToken.EventToken(f: fingerprint, t: last.time, i: last.id))
            }
            return EventPage(events: events, nextPageToken: next)
        }
    }

    /// X20 retention: deletes events older than `retention` before now, in transactions of at
    /// most `batchSize` rows (each holds the write lock for a moment only), at most
    /// `maxBatches` of them per call. Returns how many went: call again while it returns
    /// `batchSize * maxBatches`, from a background thread.
    public func pruneEvents(
        olderThan retention: Duration, batchSize: Int = 1_000, maxBatches: Int = 10
    ) throws(DomainError) -> Int {
        let parts = retention.components
        let retentionMs = parts.seconds.multipliedReportingOverflow(by: 1000)
        guard !retentionMs.overflow, retentionMs.partialValue < now else { return 0 }
        let cutoff = now - retentionMs.partialValue - parts.attoseconds / 1_000_000_000_000_000
        var deleted = 0
        for _ in 0..<maxBatches {
            let n: Int
            do { n = try store.deleteEvents(before: cutoff, limit: batchSize) } catch { throw .internal(error) }
            deleted += n
            if n < batchSize { break }
        }
        return deleted
    }
}
