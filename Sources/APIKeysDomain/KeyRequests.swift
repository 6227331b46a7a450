/// R18, X2: when a new key expires.
public enum Expiry: Sendable, Hashable {
    /// X2: the tenant's maximum.
    case tenantMaximum
    /// At this Unix time in milliseconds.
    case at(Int64)
    /// This many seconds from now.
    case inSeconds(UInt64)
}

/// A newly generated key and its secret, which is shown this once (R18, X7).
public struct GeneratedKey: Sendable, Hashable {
    public var key: APIKey
    public var secret: String
}

/// X11: the parameters of a key listing.
public struct KeyListRequest: Sendable, Hashable {
    /// R7: case-insensitive substring of name, ID or owner; empty for all.
    public var search: String
    public var status: KeyStatus?
    public var sortBy: KeySortField
    public var descending: Bool
    /// 1 to 100; 0 means 20.
    public var pageSize: Int
    /// From a previous page's `nextPageToken`; the other fields must not change.
    public var pageToken: String

    public init(
        search: String = "", status: KeyStatus? = nil, sortBy: KeySortField = .created,
        descending: Bool = false, pageSize: Int = 0, pageToken: String = ""
    ) {
        self.search = search
        self.status = status
        self.sortBy = sortBy
        self.descending = descending
        self.pageSize = pageSize
        self.pageToken = pageToken
    }
}

/// One page of keys; `nextPageToken` is empty on the last page.
public struct KeyPage: Sendable, Hashable {
    public var keys: [APIKey]
    public var nextPageToken: String
}

/// X6: what happened to one key of a bulk revoke.
public struct RevokeResult: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        case revoked
        case notFound = "not_found"
        case notActive = "not_active"
        case permissionDenied = "permission_denied"
    }

    public var keyID: String
    public var outcome: Outcome
    public var message: String
}

/// X10: the parameters of an event listing; every filter is optional.
public struct EventListRequest: Sendable, Hashable {
    public var keyID: String
    public var action: String
    public var actor: String
    /// Inclusive lower bound, Unix ms; 0 for none.
    public var since: Int64
    /// Inclusive upper bound, Unix ms; 0 for none.
    public var until: Int64
    public var pageSize: Int
    public var pageToken: String

    public init(
        keyID: String = "", action: String = "", actor: String = "", since: Int64 = 0, until: Int64 = 0,
        pageSize: Int = 0, pageToken: String = ""
    ) {
        self.keyID = keyID
        self.action = action
        self.actor = actor
        self.since = since
        self.until = until
        self.pageSize = pageSize
        self.pageToken = pageToken
    }
}

/// One page of events, newest first; `nextPageToken` is empty on the last page.
public struct EventPage: Sendable, Hashable {
    public var events: [Event]
    public var nextPageToken: String
}
