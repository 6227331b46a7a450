/// One page of a tenant's events, newest first (X10, R9): by (time, id) descending.
/// Every filter is optional; the time range is inclusive at both ends.
public struct EventQuery: Sendable, Hashable {
    public var tenantID: String
    public var keyID: String?
    public var action: String?
    public var actor: String?
    public var since: Int64?
    public var until: Int64?
    /// Rows strictly older than this (time, id).
    public var before: EventCursor?
    public var limit: Int

    public init(
        tenantID: String, keyID: String? = nil, action: String? = nil, actor: String? = nil,
        since: Int64? = nil, until: Int64? = nil, before: EventCursor? = nil, limit: Int = 20
    ) {
        self.tenantID = tenantID
        self.keyID = keyID
        self.action = action
        self.actor = actor
        self.since = since
        self.until = until
        self.before = before
        self.limit = limit
    }

    /// Whether `event` passes the filters and the cursor: the one definition both stores share.
    public func matches(_ event: Event) -> Bool {
        guard event.tenantID.isByteEqual(to: tenantID) else { return false }
        if let keyID, !(event.keyID?.isByteEqual(to: keyID) ?? false) { return false }
        if let action, !event.action.isByteEqual(to: action) { return false }
        if let actor, !event.actor.isByteEqual(to: actor) { return false }
        if let since, event.time < since { return false }
        if let until, event.time > until { return false }
        if let before {
            guard event.time < before.time || (event.time == before.time && event.id < before.id) else { return false }
        }
        return true
    }
}

/// The last event of a page: the next page starts strictly older than it.
public struct EventCursor: Sendable, Hashable {
    public var time: Int64
    public var id: UInt64

    public init(time: Int64, id: UInt64) {
        self.time = time
        self.id = id
    }
}
