import APIKeysDomain
import Testing

@Suite("X1: tenancy")
struct TenancyTests {
    @Test("X1: another tenant's key is NOT_FOUND for every key operation, never PERMISSION_DENIED")
    func keys() throws {
        let f = try Fixture()
        let gadmin = try f.addSecondTenant()
        let foreign = try f.generate(gadmin).key
        for caller in [f.admin, f.dev] {
            expectRefusal(.notFound, "key_not_found", rule: "X1") { _ = try f.service.get(caller, keyID: foreign.id) }
            expectRefusal(.notFound, "key_not_found") { _ = try f.service.rename(caller, keyID: foreign.id, name: "x") }
            expectRefusal(.notFound, "key_not_found") { _ = try f.service.revoke(caller, keyID: foreign.id) }
            expectRefusal(.notFound, "key_not_found") { try f.service.delete(caller, keyID: foreign.id) }
            #expect(try f.service.revokeMany(caller, keyIDs: [foreign.id]).map(\.outcome) == [.notFound])
            #expect(try f.service.list(caller, KeyListRequest(search: foreign.id)).keys.isEmpty)
        }
        #expect(try f.service.get(gadmin, keyID: foreign.id).revokedAt == nil)
    }

    @Test("X1: another tenant's users and events are NOT_FOUND or invisible")
    func usersAndEvents() throws {
        let f = try Fixture()
        let gadmin = try f.addSecondTenant()
        let foreign = try f.generate(gadmin).key
        expectRefusal(.notFound, "user_not_found", rule: "X1") { _ = try f.service.getUser(f.admin, userID: "gadmin") }
        expectRefusal(.notFound, "user_not_found") { _ = try f.service.assignRole(f.admin, userID: "gadmin", role: .developer) }
        expectRefusal(.notFound, "user_not_found") { _ = try f.service.removeRole(f.admin, userID: "gadmin", role: .developer) }
        expectRefusal(.notFound, "user_not_found") { _ = try f.service.setLicense(f.admin, userID: "gadmin", licensed: false) }
        #expect(try f.service.listUsers(f.admin).allSatisfy { $0.tenantID == "acme" })
        #expect(try f.service.listEvents(f.admin, EventListRequest(keyID: foreign.id)).events.isEmpty)
        #expect(try f.service.listEvents(f.admin, EventListRequest(pageSize: 100)).events.allSatisfy { $0.tenantID == "acme" })
        #expect(try f.service.listEvents(gadmin, EventListRequest(keyID: foreign.id)).events.count == 1)
    }

    @Test("X1: a refusal is recorded in the caller's tenant only")
    func refusalsStayHome() throws {
        let f = try Fixture()
        let gadmin = try f.addSecondTenant()
        let foreign = try f.generate(gadmin).key
        _ = try? f.service.revoke(f.dev, keyID: foreign.id)
        #expect(try f.service.listEvents(gadmin, EventListRequest(action: EventAction.keyRevoked)).events.isEmpty)
        let mine = try f.service.listEvents(f.admin, EventListRequest(action: EventAction.keyRevoked)).events
        #expect(mine.map(\.outcome) == [.failure])
    }
}
