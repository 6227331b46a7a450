/// X15: a stored user ID that breaks the NFC rule, found when the verification index loads
/// (data written before the rule). Only the NFC spelling can be reached; the others stay in
/// the store untouched, for the operator to resolve.
public struct IdentifierProblem: Sendable, Hashable, CustomStringConvertible {
    public var tenantID: String
    /// Every stored spelling of one user ID, NFC first when there is one: two or more that
    /// are canonically equivalent, or a single one that is not NFC.
    public var userIDs: [String]

    public var description: String {
        let names = userIDs.map(Self.escaped).joined(separator: ", ")
        let reachable = userIDs.first.flatMap { Validation.isNFC($0) ? Self.escaped($0) : nil }
        let kind = userIDs.count > 1 ? "canonically equivalent user IDs \(names)" : "user ID \(names) is not NFC"
        return "tenant \(Self.escaped(tenantID)): \(kind); " + (reachable.map { "only \($0) can be reached" } ?? "it cannot be reached")
    }

    /// Non-ASCII scalars as `\u{…}`, so that the spellings differ in a log.
    static func escaped(_ text: String) -> String {
        "\"" + text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "\\u{\(String($0.value, radix: 16, uppercase: true))}" }.joined() + "\""
    }
}

/// Gathers ``IdentifierProblem``s while users stream in, and says which may enter the index.
struct IdentifierCheck {
    /// (tenant, NFC form) to the spellings seen, for IDs where a non-NFC spelling occurs.
    private var spellings: [ExactString: [ExactString: [String]]] = [:]
    private var nfcSeen: [ExactString: Set<ExactString>] = [:]

    /// Records a stored user; true when it may be reached (its IDs are NFC).
    mutating func admit(tenantID: String, userID: String) -> Bool {
        let tenant = ExactString(tenantID)
        if Validation.isNFC(userID) && Validation.isNFC(tenantID) {
            nfcSeen[tenant, default: []].insert(ExactString(userID))
            return true
        }
        let normal = userID.precomposedNFC
        spellings[tenant, default: [:]][ExactString(normal), default: []].append(userID)
        return false
    }

    /// One problem per user ID with a non-NFC spelling, with the NFC spelling when stored.
    var problems: [IdentifierProblem] {
        var problems: [IdentifierProblem] = []
        for (tenant, byForm) in spellings {
            for (form, others) in byForm {
                let nfc = nfcSeen[tenant]?.contains(form) == true ? [form.string] : []
                problems.append(IdentifierProblem(tenantID: tenant.string, userIDs: nfc + others))
            }
        }
        return problems.sorted { ($0.tenantID, $0.userIDs[0]) < ($1.tenantID, $1.userIDs[0]) }
    }
}
