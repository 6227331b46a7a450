import APIKeysDomain
import APIKeysPostgres
import PostgresNIO
import Testing

/// The PostgreSQL listing must answer exactly as the in-memory reference store.
@Suite("PostgreSQL store: listing keys and events (R6, R7, X10, X11)")
struct ListingTests {
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

    @Test("R6: every sort column in both directions, with each status filter and cursor, as the reference store")
    func sortingMatchesReference() throws {
        let db = TestStore()
        let postgres = try db.open()
        let memory = InMemoryKeyStore()
        try populate([postgres, memory])
        for sort in KeySortField.allCases {
            for descending in [false, true] {
                for status in [nil, KeyStatus.active, .expired, .revoked] {
                    for owner in [nil, "bob"] {
                        var query = KeyQuery(tenantID: "acme", ownerID: owner, status: status, sort: sort, descending: descending, asOf: t0 + 25_000, limit: 100)
                        let expected = try memory.listKeys(query).map(\.id)
                        #expect(try postgres.listKeys(query).map(\.id) == expected, "\(sort) \(descending) \(String(describing: status)) \(owner ?? "*")")
                        #expect(!expected.isEmpty || status != nil)
                        // From a cursor in the middle, and with a cursor of the other type.
                        if let middle = try memory.listKeys(query).dropFirst(expected.count / 2).first {
                            query.after = KeyCursor(value: query.sortValue(of: middle), id: middle.id)
                            #expect(try postgres.listKeys(query).map(\.id) == memory.listKeys(query).map(\.id))
                            let other: KeySortValue = if case .text = query.sortValue(of: middle) { .integer(5) } else { .text("m") }
                            query.after = KeyCursor(value: other, id: middle.id)
                            #expect(try postgres.listKeys(query).map(\.id) == memory.listKeys(query).map(\.id))
                        }
                    }
                }
            }
        }
    }

    @Test("R7: search by part of a name, an exact or partial ID, or the owner, ignoring case; % and _ are literal")
    func search() throws {
        let db = TestStore()
        let postgres = try db.open()
        let memory = InMemoryKeyStore()
        try populate([postgres, memory])
        let someID = makeKey(13, owner: "", name: "", created: 0, expires: 0).id
        for search in ["deploy", "ploy b", "zür", "är", "%_", "_", "%", "\\", "alice", "bob", "de", someID, String(someID.suffix(6)), "nothing"] {
            for sort in [KeySortField.id, .name] {
                let query = KeyQuery(tenantID: "acme", search: search, sort: sort, asOf: t0, limit: 100)
                #expect(try postgres.listKeys(query).map(\.id) == memory.listKeys(query).map(\.id), "search \(search)")
            }
        }
        func names(_ search: String) throws -> Set<String> {
            Set(try postgres.listKeys(KeyQuery(tenantID: "acme", search: search, asOf: t0, limit: 100)).map(\.name))
        }
        #expect(try names("%_") == ["100%_done"])
        #expect(try names("a_b") == ["a_b"])  // not "a" + any character + "b"
        #expect(try names("\\") == ["back\\slash"])
        #expect(try names("zür") == ["Zürich"])
        #expect(try names("är") == ["ÄRGER"])
        #expect(try postgres.listKeys(KeyQuery(tenantID: "acme", search: someID, asOf: t0, limit: 100)).map(\.id) == [someID])
    }

    @Test("R7: the trigram index serves a selective search")
    func searchIndex() throws {
        let db = TestStore()
        let store = try db.open()
        try seed(store)
        try store.write { tx in try tx.insertKey(makeKey(1, owner: "carol", name: "Quarterly Export", created: t0, expires: t0 + 1)) }
        // 50,000 other keys, written directly: enough that the planner prefers the index.
        try TestCluster.admin("""
            INSERT INTO "\(db.schema)".api_key (id, tenant_id, owner_id, name, name_lower, owner_lower, created_at,
                updated_at, expires_at, secret_hash)
            SELECT 'key_' || md5(i::text), 'acme', 'bob', 'key ' || i, 'key ' || i, 'bob', i, i, i, '\\x00'::bytea
            FROM generate_series(1, 50000) AS i
            """)
        try TestCluster.admin("ANALYZE \"\(db.schema)\".api_key")
        let plan = try TestCluster.admin("""
            EXPLAIN SELECT id FROM "\(db.schema)".api_key k WHERE k.tenant_id = 'acme' AND
            (k.name_lower LIKE '%rterly%' OR k.id LIKE '%rterly%' OR k.owner_lower LIKE '%rterly%') ORDER BY k.created_at, k.id LIMIT 20
            """).map { try $0.makeRandomAccess()[0].decode(String.self) }.joined(separator: "\n")
        #expect(plan.contains("api_key_search"), "\(plan)")
        #expect(try store.listKeys(KeyQuery(tenantID: "acme", search: "rterly", asOf: t0)).map(\.name) == ["Quarterly Export"])
    }

    @Test("X11: paging with inserts between pages loses and repeats nothing")
    func pagingUnderInserts() throws {
        let db = TestStore()
        let store = try db.open()
        try seed(store)
        try store.write { tx in
            for i in 0..<400 {
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
        let db = TestStore()
        let postgres = try db.open()
        let memory = InMemoryKeyStore()
        for store in [postgres, memory] as [any KeyStore] {
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
            #expect(try postgres.listEvents(filter) == expected)
            var paged: [Event] = []
            var query = filter
            query.limit = 7
            while true {
                let page = try postgres.listEvents(query)
                paged += page
                guard let last = page.last, page.count == 7 else { break }
                query.before = EventCursor(time: last.time, id: last.id)
            }
            #expect(paged == expected)
        }
    }
}
