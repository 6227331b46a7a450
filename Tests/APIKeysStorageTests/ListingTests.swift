import APIKeysDomain
import APIKeysStorage
import Testing

/// The SQLite listing must answer exactly as the in-memory reference store.
@Suite("SQLite store: listing keys and events (R6, R7, X10, X11)")
struct SQLiteListingTests {
    static let names = ["Deploy Bot", "deploy-bot", "nightly", "100%_done", "Zürich", "ÄRGER", "alpha", "a_b", "back\\slash", "ci"]

    /// The same 60 keys in both stores: ties in every column, mixed case, all statuses.
    func populate(_ stores: [any KeyStore]) throws {
        for store in stores {
            try seed(store, tenants: ["acme", "globex"])
            try store.write { tx in
                for i in 0..<60 {
                    let owner = ["Alice", "bob", "carol"][i % 3]
                    var key = makeKey(i, tenant: i % 10 == 9 ? "globex" : "acme", owner: owner, name: Self.names[i % Self.names.count],
                                      created: t0 + Int64(i / 4) * 1_000, expires: t0 + Int64(i % 7) * 10_000)
                    if i % 5 == 0 { key.revokedAt = t0 + 1 }
                    try tx.insertKey(key)
                }
            }
        }
    }

    @Test("R6: every sort column in both directions, with each status filter, as the reference store")
    func sortingMatchesReference() throws {
        let db = try TempDatabase()
        let sqlite = try db.open()
        let memory = InMemoryKeyStore()
        try populate([sqlite, memory])
        for sort in KeySortField.allCases {
            for descending in [false, true] {
                for status in [nil, KeyStatus.active, .expired, .revoked] {
                    for owner in [nil, "bob"] {
                        let query = KeyQuery(tenantID: "acme", ownerID: owner, status: status, sort: sort, descending: descending, asOf: t0 + 25_000, limit: 100)
                        let expected = try memory.listKeys(query).map(\.id)
                        #expect(try sqlite.listKeys(query).map(\.id) == expected, "\(sort) \(descending) \(String(describing: status)) \(owner ?? "*")")
                        #expect(!expected.isEmpty || status != nil)
                    }
                }
            }
        }
    }

    @Test("R7: search by part of a name, an exact or partial ID, or the owner, ignoring case; % and _ are literal")
    func search() throws {
        let db = try TempDatabase()
        let sqlite = try db.open()
        let memory = InMemoryKeyStore()
        try populate([sqlite, memory])
        let someID = makeKey(13, owner: "", name: "", created: 0, expires: 0).id
        for search in ["deploy", "PLOY B".lowercased(), "zür", "är", "%_", "_", "%", "\\", "alice", "BOB".lowercased(), someID, String(someID.suffix(6)), "nothing"] {
            let query = KeyQuery(tenantID: "acme", search: search, sort: .id, asOf: t0, limit: 100)
            let expected = try memory.listKeys(query).map(\.id)
            #expect(try sqlite.listKeys(query).map(\.id) == expected, "search \(search)")
        }
        func names(_ search: String) throws -> Set<String> {
            Set(try sqlite.listKeys(KeyQuery(tenantID: "acme", search: search, asOf: t0, limit: 100)).map(\.name))
        }
        #expect(try names("%_") == ["100%_done"])
        #expect(try names("%") == ["100%_done"])
        #expect(try names("a_b") == ["a_b"])  // not "a" + any character + "b"
        #expect(try names("\\") == ["back\\slash"])
        #expect(try names("zür") == ["Zürich"])
        #expect(try names("är") == ["ÄRGER"])
        #expect(try sqlite.listKeys(KeyQuery(tenantID: "acme", search: someID, asOf: t0, limit: 100)).map(\.id) == [someID])
        #expect(try sqlite.listKeys(KeyQuery(tenantID: "acme", search: "alice", asOf: t0, limit: 100)).allSatisfy { $0.ownerID == "Alice" })
    }

    @Test("X11: paging through 1,000 keys with inserts between pages loses and repeats nothing")
    func pagingUnderInserts() throws {
        let db = try TempDatabase()
        let store = try db.open()
        try seed(store)
        try store.write { tx in
            for i in 0..<1_000 {
                try tx.insertKey(makeKey(i, owner: ["Alice", "bob", "carol"][i % 3], name: "k\(i % 37)", created: t0 + Int64(i / 10), expires: t0 + Int64(i % 13) * 1_000 + 500))
            }
        }
        var next = 10_000
        for sort in KeySortField.allCases {
            for descending in [false, true] {
                var query = KeyQuery(tenantID: "acme", sort: sort, descending: descending, asOf: t0 + 6_000, limit: 97)
                var seen: [String] = []
                let before = Set(try store.listKeys(KeyQuery(tenantID: "acme", asOf: t0, limit: 100_000)).map(\.id))
                while true {
                    let page = try store.listKeys(query)
                    seen += page.map(\.id)
                    guard let last = page.last, page.count == query.limit else { break }
                    query.after = KeyCursor(value: query.sortValue(of: last), id: last.id)
                    // Concurrent inserts, some sorting before and some after the cursor.
                    try store.write { tx in
                        for j in 0..<3 {
                            next += 1
                            try tx.insertKey(makeKey(next, owner: "bob", name: "k\(j * 17)", created: t0 + Int64(j * 50), expires: t0 + Int64(j) * 5_000))
                        }
                    }
                }
                #expect(Set(seen).count == seen.count, "repeated rows sorting by \(sort) descending=\(descending)")
                #expect(before.isSubset(of: Set(seen)), "lost rows sorting by \(sort) descending=\(descending)")
            }
        }
    }

    @Test("X10: events newest first with every filter and paging, as the reference store")
    func events() throws {
        let db = try TempDatabase()
        let sqlite = try db.open()
        let memory = InMemoryKeyStore()
        for store in [sqlite, memory] as [any KeyStore] {
            try store.write { tx in
                for i in 0..<200 {
                    try tx.insertEvent(Event(
                        time: t0 + Int64(i / 3) * 100, tenantID: i % 9 == 0 ? "globex" : "acme",
                        actor: "user:\(["a", "b", "c"][i % 3])",
                        action: [EventAction.keyGenerated, EventAction.keyRevoked, EventAction.permissionDenied, EventAction.keyVerifyFailed][i % 4],
                        keyID: i % 5 == 0 ? nil : "key_\(i % 6)", outcome: .success, details: ["i": String(i)]))
                }
            }
        }
        let filters: [EventQuery] = [
            EventQuery(tenantID: "acme", limit: 1_000),
            EventQuery(tenantID: "acme", keyID: "key_2", limit: 1_000),
            EventQuery(tenantID: "acme", action: EventAction.keyRevoked, limit: 1_000),
            EventQuery(tenantID: "acme", actor: "user:b", limit: 1_000),
            EventQuery(tenantID: "acme", since: t0 + 1_000, until: t0 + 3_000, limit: 1_000),
            EventQuery(tenantID: "acme", keyID: "key_1", action: EventAction.keyGenerated, actor: "user:a", since: t0 + 500, limit: 1_000),
            EventQuery(tenantID: "globex", limit: 1_000),
        ]
        for filter in filters {
            let expected = try memory.listEvents(filter)
            let all = try sqlite.listEvents(filter)
            #expect(all == expected)
            // Paging by 7 gives the same sequence.
            var paged: [Event] = []
            var query = filter
            query.limit = 7
            while true {
                let page = try sqlite.listEvents(query)
                paged += page
                guard let last = page.last, page.count == 7 else { break }
                query.before = EventCursor(time: last.time, id: last.id)
            }
            #expect(paged == expected)
        }
        #expect(try sqlite.listEvents(EventQuery(tenantID: "acme", limit: 1_000)).allSatisfy { $0.tenantID == "acme" })
    }
}
