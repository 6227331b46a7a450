import APIKeysDomain
import Testing

@Suite("Directory (R5, X13)")
struct DirectoryTests {
    @Test("R5: a tenant admin assigns the Developer role, also to themselves")
    func assignToSelf() throws {
        let f = try Fixture()
        _ = try f.service.createUser(.operator, tenantID: "acme", userID: "boss", displayName: "Boss", roles: [.tenantAdmin], licensed: true)
        let boss = f.user("boss")
        expectRefusal(.permissionDenied, "not_developer") { _ = try f.generate(boss) }
        let updated = try f.service.assignRole(boss, userID: "boss", role: .developer)
        #expect(updated.roles == [.tenantAdmin, .developer])
        _ = try f.generate(boss)
        let event = try #require(f.events(EventAction.userRoleAssigned).last)
        #expect(event.details["user"] == "boss" && event.details["role"] == "Developer")
    }

    @Test("R3: only a tenant admin changes roles and licenses")
    func adminOnly() throws {
        let f = try Fixture()
        expectRefusal(.permissionDenied, "not_tenant_admin") { _ = try f.service.assignRole(f.dev, userID: "dev", role: .tenantAdmin) }
        expectRefusal(.permissionDenied, "not_tenant_admin") { _ = try f.service.setLicense(f.dev, userID: "unlicensed", licensed: true) }
        expectRefusal(.permissionDenied, "not_tenant_admin") { _ = try f.service.listUsers(f.dev) }
        #expect(try f.service.getUser(f.dev, userID: "dev").userID == "dev")
        expectRefusal(.permissionDenied, "not_tenant_admin") { _ = try f.service.getUser(f.dev, userID: "admin") }
    }

    @Test("R17: a license granted lets the user generate; events record the change")
    func license() throws {
        let f = try Fixture()
        let u = f.user("unlicensed")
        expectRefusal(.permissionDenied, "no_license") { _ = try f.generate(u) }
        #expect(try f.service.setLicense(f.admin, userID: "unlicensed", licensed: true).licensed)
        _ = try f.generate(u)
        #expect(f.events(EventAction.userLicenseChanged).count == 1)
    }

    @Test("The tenant's last TenantAdmin keeps the role")
    func lastAdmin() throws {
        let f = try Fixture()
        expectRefusal(.failedPrecondition, "last_tenant_admin") { _ = try f.service.removeRole(f.admin, userID: "admin", role: .tenantAdmin) }
        _ = try f.service.assignRole(f.admin, userID: "dev", role: .tenantAdmin)
        _ = try f.service.removeRole(f.admin, userID: "admin", role: .tenantAdmin)
        #expect(f.events(EventAction.userRoleRemoved).map(\.outcome) == [.denied, .success])
    }

    @Test("Operator-only directory calls validate and refuse duplicates")
    func operatorCalls() throws {
        let f = try Fixture()
        expectRefusal(.alreadyExists, "tenant_exists") { _ = try f.service.createTenant(.operator, id: "acme", name: "Again") }
        expectRefusal(.invalidArgument, "invalid_tenant_id") { _ = try f.service.createTenant(.operator, id: "-bad", name: "x") }
        expectRefusal(.invalidArgument, "invalid_tenant_id") { _ = try f.service.createTenant(.operator, id: "UPPER", name: "x") }
        expectRefusal(.alreadyExists, "user_exists") { _ = try f.service.createUser(.operator, tenantID: "acme", userID: "dev", displayName: "") }
        expectRefusal(.notFound, "tenant_not_found") { _ = try f.service.createUser(.operator, tenantID: "nope", userID: "x", displayName: "") }
        expectRefusal(.invalidArgument, "invalid_user_id") { _ = try f.service.createUser(.operator, tenantID: "acme", userID: "has space", displayName: "") }
        expectRefusal(.invalidArgument, "invalid_service_name") { _ = try f.service.createServiceCredential(.operator, name: "Bad Name") }
        expectRefusal(.permissionDenied, "not_operator") { _ = try f.service.createUser(f.admin, tenantID: "acme", userID: "x", displayName: "") }
        expectRefusal(.permissionDenied, "not_operator") { _ = try f.service.removeUser(f.admin, tenantID: "acme", userID: "dev") }
        #expect(try f.service.listUsers(f.admin).map(\.userID) == ["admin", "dev", "dev2", "plain", "unlicensed"])
    }
}
