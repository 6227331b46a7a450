import APIKeysDomain

/// One change-log entry: which record a transaction changed (X21). Identifiers compare by
/// bytes (X15), so two spellings of one name are two entries.
struct ChangeEntry: Hashable {
    enum Kind: String {
        case tenant, user, key, credential
    }

    var kind: Kind
    /// The record's ID; for a user, the tenant ID.
    var first: ExactString
    /// For a user, the user ID; empty otherwise.
    var second: ExactString

    init(_ kind: Kind, _ first: String, _ second: String = "") {
        self.kind = kind
        self.first = ExactString(first)
        self.second = ExactString(second)
    }
}

/// The records one transaction changed, each once, in the order first changed.
struct ChangeSet {
    private(set) var entries: [ChangeEntry] = []
    private var seen: Set<ChangeEntry> = []

    var isEmpty: Bool { entries.isEmpty }

    mutating func insert(_ entry: ChangeEntry) {
        if seen.insert(entry).inserted { entries.append(entry) }
    }
}
