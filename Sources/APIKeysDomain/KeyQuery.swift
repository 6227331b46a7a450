/// R6: the columns the key table sorts by.
public enum KeySortField: String, Sendable, Hashable, CaseIterable {
    case name, id, owner, updated, created, expires, status
}

/// A sort column's value for keyset pagination; both stores compare it the same way.
public enum KeySortValue: Sendable, Hashable, Comparable {
    case integer(Int64)
    /// Compared by UTF-8 bytes, as SQLite compares TEXT.
    case text(String)

    public static func < (lhs: KeySortValue, rhs: KeySortValue) -> Bool {
        switch (lhs, rhs) {
        case (.integer(let a), .integer(let b)): a < b
        case (.text(let a), .text(let b)): a.utf8.lexicographicallyPrecedes(b.utf8)
        case (.integer, .text): true
        case (.text, .integer): false
        }
    }
}

/// The position after which the next page starts: the last row's (sort value, id).
public struct KeyCursor: Sendable, Hashable {
    public var value: KeySortValue
    public var id: String

    public init(value: KeySortValue, id: String) {
        self.value = value
        self.id = id
    }
}

/// One page of the key table, as a store answers it (X11, R6, R7).
///
/// Order: by (sort value, id), both descending when `descending`. Rows strictly after
/// `after` in that order. The status of a key is taken at `asOf`, which stays fixed over
/// the pages of one listing so status filters and status sorting stay consistent.
public struct KeyQuery: Sendable, Hashable {
    public var tenantID: String
    /// Nil: every key of the tenant (an admin's view); otherwise one owner's (the hub).
    public var ownerID: String?
    /// R7: already lower-cased; a substring of the lower-cased name, the ID or the lower-cased owner.
    public var search: String?
    public var status: KeyStatus?
    public var sort: KeySortField
    public var descending: Bool
    public var asOf: Int64
    public var after: KeyCursor?
    public var limit: Int

    public init(
        tenantID: String, ownerID: String? = nil, search: String? = nil, status: KeyStatus? = nil,
        sort: KeySortField = .created, descending: Bool = false, asOf: Int64,
        after: KeyCursor? = nil, limit: Int = 20
    ) {
        self.tenantID = tenantID
        self.ownerID = ownerID
        self.search = search
        self.status = status
        self.sort = sort
        self.descending = descending
        self.asOf = asOf
        self.after = after
        self.limit = limit
    }

    /// The value of `key` in the sort column: the one definition both stores and the cursor use.
    public func sortValue(of key: APIKey) -> KeySortValue {
        switch sort {
        case .name: .text(key.name.lowercased())
        case .id: .text(key.id)
        case .owner: .text(key.ownerID)
        case .updated: .integer(key.updatedAt)
        case .created: .integer(key.createdAt)
        case .expires: .integer(key.expiresAt)
        case .status: .integer(key.status(at: asOf).rank)
        }
    }

    /// Whether `key` passes the filters (tenant, owner, search, status), ignoring the cursor.
    public func matches(_ key: APIKey) -> Bool {
        guard key.tenantID.isByteEqual(to: tenantID) else { return false }
        if let ownerID, !key.ownerID.isByteEqual(to: ownerID) { return false }
        if let status, key.status(at: asOf) != status { return false }
        if let search, !search.isEmpty {
            guard key.name.lowercased().contains(search) || key.id.contains(search)
                    || key.ownerID.lowercased().contains(search)
            else { return false }
        }
        return true
    }

    /// Whether `key` comes strictly after `after` in the listing's order.
    public func isAfterCursor(_ key: APIKey) -> Bool {
        guard let after else { return true }
        let value = sortValue(of: key)
        if value == after.value {
            return descending ? key.id.utf8.lexicographicallyPrecedes(after.id.utf8)
                : after.id.utf8.lexicographicallyPrecedes(key.id.utf8)
        }
        return descending ? value < after.value : after.value < value
    }
}
