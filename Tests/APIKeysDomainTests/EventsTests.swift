import APIKeysDomain
import Testing

@Suite("Events (R9, X10)")
struct EventsTests {
    @Test("R9: the admin finds the key of an excessive-use event by its ID and revokes it")
    func excessiveUseWorkflow() throws {
        let f = try Fixture()
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(excessiveUsePerMinute: 1))
        let generated = try f.generate(f.dev)
        for _ in 0..<3 { _ = try f.service.verify(generated.secret, verifier: f.verifier) }
        try f.service.flushPending()
        let event = try #require(try f.service.listEvents(f.admin, EventListRequest(action: EventAction.keyExcessiveUse)).events.first)
        let keyID = try #require(event.keyID)
        #expect(event.actor == "service:gateway")
        let found = try f.service.list(f.admin, KeyListRequest(search: keyID)).keys
        #expect(found.map(\.id) == [keyID])
        _ = try f.service.revoke(f.admin, keyID: keyID, reason: "excessive use")
        expectRefusal(.unauthenticated, "revoked") { _ = try f.service.verify(generated.secret, verifier: f.verifier) }
    }

    @Test("X10: newest first, filtered by key ID, action, actor and time range, paged")
    func filtersAndPaging() throws {
        let f = try Fixture()
        var keys: [APIKey] = []
        for i in 0..<4 {
            f.clock.advance(bySeconds: 10)
            keys.append(try f.generate(i % 2 == 0 ? f.dev : f.dev2, "k\(i)").key)
        }
        let t2 = keys[2].createdAt
        f.clock.advance(bySeconds: 10)
        _ = try f.service.rename(f.dev, keyID: keys[0].id, name: "renamed")
        let all = try f.service.listEvents(f.admin, EventListRequest(pageSize: 100)).events
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.time > $1.time || ($0.time == $1.time && $0.id > $1.id) })
        let forKey = try f.service.listEvents(f.admin, EventListRequest(keyID: keys[0].id)).events
        #expect(forKey.map(\.action) == [EventAction.keyRenamed, EventAction.keyGenerated])
        let byDev2 = try f.service.listEvents(f.admin, EventListRequest(action: EventAction.keyGenerated, actor: "user:dev2")).events
        #expect(byDev2.map(\.keyID) == [keys[3].id, keys[1].id])
        let ranged = try f.service.listEvents(f.admin, EventListRequest(action: EventAction.keyGenerated, since: keys[1].createdAt, until: t2)).events
        #expect(ranged.map(\.keyID) == [keys[2].id, keys[1].id])
        var paged: [Event] = []
        var token = ""
        repeat {
            let page = try f.service.listEvents(f.admin, EventListRequest(pageSize: 3, pageToken: token))
            paged += page.events
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(paged == all)
        expectRefusal(.invalidArgument, "page_token_mismatch") {
            let first = try f.service.listEvents(f.admin, EventListRequest(pageSize: 1))
            _ = try f.service.listEvents(f.admin, EventListRequest(action: "x", pageSize: 1, pageToken: first.nextPageToken))
        }
    }

    @Test("R9: only a tenant admin reviews events")
    func adminOnly() throws {
        let f = try Fixture()
        expectRefusal(.permissionDenied, "not_tenant_admin") { _ = try f.service.listEvents(f.dev, EventListRequest()) }
    }

    @Test("X7, X10: no event ever holds a secret")
    func noSecrets() throws {
        let f = try Fixture()
        let generated = try f.generate(f.dev)
        _ = try f.service.verify(generated.secret, verifier: f.verifier)
        _ = try? f.service.verify(generated.secret + "x", verifier: f.verifier)
        _ = try f.service.revoke(f.dev, keyID: generated.key.id)
        _ = try? f.service.verify(generated.secret, verifier: f.verifier)
        try f.service.flushPending()
        for event in f.store.allEvents {
            let text = ([event.actor, event.action, event.keyID ?? ""] + event.details.keys + event.details.values).joined(separator: " ")
            #expect(!text.contains("apk_"))
        }
    }
}
