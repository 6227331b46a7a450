import APIKeysDomain
import Testing

/// A service on an in-memory store with a manual clock and a populated tenant:
/// `admin` (TenantAdmin + Developer, licensed), `dev` and `dev2` (Developer, licensed),
/// `plain` (no role, licensed), `unlicensed` (Developer, no license). API keys enabled.
extension Caller {
    /// A service with scope `act` in every tenant, as the tests use it.
    static func service(name: String) -> Caller { .service(ServiceIdentity(name: name, credentialID: "configured:\(name)")) }
}

extension Caller.Via {
    static func service(name: String) -> Caller.Via { .service(ServiceIdentity(name: name, credentialID: "configured:\(name)")) }
}

struct Fixture {
    let store = InMemoryKeyStore()
    let clock = ManualClock()
    let service: APIKeyService
    let tenant = "acme"

    init(enabled: Bool = true) throws {
        service = try APIKeyService(store: store, clock: clock)
        _ = try service.createTenant(.operator, id: tenant, name: "Acme")
        _ = try service.createUser(.operator, tenantID: tenant, userID: "admin", displayName: "Ada", roles: [.tenantAdmin, .developer], licensed: true)
        _ = try service.createUser(.operator, tenantID: tenant, userID: "dev", displayName: "Dev", roles: [.developer], licensed: true)
        _ = try service.createUser(.operator, tenantID: tenant, userID: "dev2", displayName: "Dev Two", roles: [.developer], licensed: true)
        _ = try service.createUser(.operator, tenantID: tenant, userID: "plain", displayName: "Plain", roles: [], licensed: true)
        _ = try service.createUser(.operator, tenantID: tenant, userID: "unlicensed", displayName: "U", roles: [.developer], licensed: false)
        if enabled { _ = try service.updateSettings(admin, SettingsUpdate(apiKeysEnabled: true)) }
    }

    func user(_ id: String, tenant: String? = nil) -> Caller {
        .member(Caller.Member(tenantID: tenant ?? self.tenant, userID: id, via: .service(name: "portal")))
    }

    var admin: Caller { user("admin") }
    var dev: Caller { user("dev") }
    var dev2: Caller { user("dev2") }
    var verifier: Caller { .service(name: "gateway") }

    /// A second tenant "globex" with its own admin+developer "gadmin".
    func addSecondTenant() throws -> Caller {
        _ = try service.createTenant(.operator, id: "globex", name: "Globex")
        _ = try service.createUser(.operator, tenantID: "globex", userID: "gadmin", displayName: "G", roles: [.tenantAdmin, .developer], licensed: true)
        let gadmin = user("gadmin", tenant: "globex")
        _ = try service.updateSettings(gadmin, SettingsUpdate(apiKeysEnabled: true))
        return gadmin
    }

    func generate(_ caller: Caller, _ name: String = "ci", expiry: Expiry = .tenantMaximum) throws -> GeneratedKey {
        try service.generate(caller, name: name, expiry: expiry)
    }

    func events(_ action: String? = nil) -> [Event] {
        store.allEvents.filter { action == nil || $0.action == action }
    }
}

/// Expects `body` to throw a DomainError with `code` and `reason`; returns it.
@discardableResult
func expectRefusal(
    _ code: DomainError.Code, _ reason: String, rule: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> DomainError? {
    do {
        try body()
        Issue.record("expected \(code) \(reason), but the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as DomainError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
        if let rule { #expect(error.rule == rule, "\(error)", sourceLocation: sourceLocation) }
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
