import APIKeysDomain
import Testing

@Suite("Listing keys (R6, R7, X11)")
struct ListingTests {
    @Test("X11: an admin lists all keys of the tenant, a developer their own")
    func scope() throws {
        let f = try Fixture()
        _ = try f.generate(f.dev)
        _ = try f.generate(f.dev2)
        _ = try f.generate(f.admin)
        #expect(try f.service.list(f.admin, KeyListRequest()).keys.count == 3)
        #expect(try f.service.list(f.dev, KeyListRequest()).keys.map(\.ownerID) == ["dev"])
        #expect(try f.service.list(f.user("plain"), KeyListRequest()).keys.isEmpty)
    }

    @Test("R7: search matches part of the name, the ID or the owner, ignoring case")
    func search() throws {
        let f = try Fixture()
        let deploy = try f.generate(f.dev, "Deploy Bot").key
        _ = try f.generate(f.dev2, "nightly")
        _ = try f.generate(f.dev2, "100%_done")
        func names(_ search: String) throws -> [String] {
            try f.service.list(f.admin, KeyListRequest(search: search, sortBy: .name)).keys.map(\.name)
        }
        #expect(try names("PLOY b") == ["Deploy Bot"])
        #expect(try f.service.list(f.admin, KeyListRequest(search: deploy.id)).keys.map(\.id) == [deploy.id])
        #expect(try f.service.list(f.admin, KeyListRequest(search: String(deploy.id.dropFirst(6).prefix(8)).uppercased())).keys.map(\.id) == [deploy.id])
        #expect(try names("DEV2") == ["100%_done", "nightly"])
        #expect(try names("%_") == ["100%_done"])
        #expect(try names("zzz").isEmpty)
    }

    @Test("R8, X11: filter by status")
    func statusFilter() throws {
        let f = try Fixture()
        let a = try f.generate(f.dev, "a").key
        _ = try f.generate(f.dev, "b", expiry: .inSeconds(1))
        let c = try f.generate(f.dev, "c").key
        _ = try f.service.revoke(f.dev, keyID: c.id)
        f.clock.advance(bySeconds: 2)
        #expect(try f.service.list(f.dev, KeyListRequest(status: .active)).keys.map(\.id) == [a.id])
        #expect(try f.service.list(f.dev, KeyListRequest(status: .expired)).keys.map(\.name) == ["b"])
        #expect(try f.service.list(f.dev, KeyListRequest(status: .revoked)).keys.map(\.name) == ["c"])
    }

    @Test("R6: sort by every column, both directions")
    func sorting() throws {
        let f = try Fixture()
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxKeysPerUser: 100))
        var made: [APIKey] = []
        for (i, name) in ["delta", "Alpha", "charlie", "bravo"].enumerated() {
            f.clock.advance(bySeconds: 1)
            made.append(try f.generate(i % 2 == 0 ? f.dev : f.dev2, name, expiry: .inSeconds(UInt64(1000 - i * 10))).key)
        }
        _ = try f.service.revoke(f.admin, keyID: made[2].id)
        for sort in KeySortField.allCases {
            for descending in [false, true] {
                let listed = try f.service.list(f.admin, KeyListRequest(sortBy: sort, descending: descending)).keys
                let query = KeyQuery(tenantID: "acme", sort: sort, descending: descending, asOf: f.clock.nowMilliseconds)
                let values = listed.map { query.sortValue(of: $0) }
                let ordered = descending ? values == values.sorted().reversed() : values == values.sorted()
                #expect(ordered, "\(sort) descending=\(descending)")
                #expect(listed.count == 4)
            }
        }
        let byName = try f.service.list(f.admin, KeyListRequest(sortBy: .name)).keys.map(\.name)
        #expect(byName == ["Alpha", "bravo", "charlie", "delta"])
        let byStatus = try f.service.list(f.admin, KeyListRequest(sortBy: .status, descending: true)).keys
        #expect(byStatus.first?.id == made[2].id)
    }

    @Test("X11: page size 1 to 100, 0 means 20")
    func pageSize() throws {
        let f = try Fixture()
        expectRefusal(.invalidArgument, "invalid_page_size", rule: "X11") { _ = try f.service.list(f.dev, KeyListRequest(pageSize: 101)) }
        expectRefusal(.invalidArgument, "invalid_page_size") { _ = try f.service.list(f.dev, KeyListRequest(pageSize: -1)) }
        _ = try f.service.list(f.dev, KeyListRequest(pageSize: 100))
    }

    @Test("X11: cursor paging loses and repeats nothing while keys are inserted between pages")
    func stablePaging() throws {
        let f = try Fixture()
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxKeysPerUser: 1_000))
        for i in 0..<45 {
            if i % 3 == 0 { f.clock.advance(bySeconds: 1) }  // ties in created time
            _ = try f.generate(i % 2 == 0 ? f.dev : f.dev2, "key \(i % 7)")
        }
        for sort in [KeySortField.created, .name, .owner] {
            for descending in [false, true] {
                let before = Set(try f.service.list(f.admin, KeyListRequest(pageSize: 100)).keys.map(\.id))
                var seen: [String] = []
                var token = ""
                repeat {
                    let page = try f.service.list(f.admin, KeyListRequest(sortBy: sort, descending: descending, pageSize: 7, pageToken: token))
                    seen += page.keys.map(\.id)
                    token = page.nextPageToken
                    _ = try f.generate(f.admin, "key 3")  // inserted while paging
                    _ = try f.service.revoke(f.admin, keyID: try f.service.list(f.admin, KeyListRequest(status: .active, sortBy: .created, descending: true)).keys[0].id)
                } while !token.isEmpty
                #expect(Set(seen).count == seen.count, "repeated rows for \(sort)")
                #expect(before.isSubset(of: Set(seen)), "lost rows for \(sort) \(descending)")
            }
        }
    }

    @Test("X11: a page token is refused with other filters")
    func tokenMismatch() throws {
        let f = try Fixture()
        for _ in 0..<3 { _ = try f.generate(f.dev) }
        let page = try f.service.list(f.dev, KeyListRequest(pageSize: 1))
        #expect(!page.nextPageToken.isEmpty)
        expectRefusal(.invalidArgument, "page_token_mismatch") { _ = try f.service.list(f.dev, KeyListRequest(sortBy: .name, pageSize: 1, pageToken: page.nextPageToken)) }
        expectRefusal(.invalidArgument, "page_token_mismatch") { _ = try f.service.list(f.admin, KeyListRequest(pageSize: 1, pageToken: page.nextPageToken)) }
        expectRefusal(.invalidArgument, "invalid_page_token") { _ = try f.service.list(f.dev, KeyListRequest(pageToken: "garbage!")) }
    }
}
