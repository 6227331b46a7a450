import APIKeysDomain
import Testing

@Suite("X13: callers and authorization")
struct CallerTests {
    @Test("X13: Bearer with the user's own active key resolves to that user")
    func bearer() throws {
        let f = try Fixture()
        let generated = try f.generate(f.dev)
        let caller = try f.service.resolveCaller(authorization: "Bearer \(generated.secret)", tenantID: nil, userID: nil)
        #expect(caller == .member(Caller.Member(tenantID: "acme", userID: "dev", via: .apiKey(keyID: generated.key.id))))
        #expect(try f.service.list(caller, KeyListRequest()).keys.count == 1)
        _ = try f.service.revoke(caller, keyID: generated.key.id)
        expectRefusal(.unauthenticated, "revoked") { _ = try f.service.resolveCaller(authorization: "Bearer \(generated.secret)", tenantID: nil, userID: nil) }
        expectRefusal(.unauthenticated, "unknown") { _ = try f.service.resolveCaller(authorization: "Bearer nope", tenantID: nil, userID: nil) }
    }

    @Test("X13: a Bearer key does not authenticate while the tenant is disabled")
    func bearerDisabled() throws {
        let f = try Fixture()
        let generated = try f.generate(f.dev)
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(apiKeysEnabled: false))
        expectRefusal(.unauthenticated, "disabled") { _ = try f.service.resolveCaller(authorization: "Bearer \(generated.secret)", tenantID: nil, userID: nil) }
    }

    @Test("X13: a service acts for nobody, or for an existing user of a tenant")
    func service() throws {
        let f = try Fixture()
        let (name, secret) = try f.service.createServiceCredential(.operator, name: "portal")
        #expect(name == "portal" && secret.hasPrefix("aks_"))
        #expect(try f.service.resolveCaller(authorization: "Service \(secret)", tenantID: nil, userID: nil).via == "service:portal")
        let acting = try f.service.resolveCaller(authorization: "Service \(secret)", tenantID: "acme", userID: "dev")
        #expect(acting.tenantID == "acme" && acting.actor == "user:dev" && acting.via == "service:portal")
        expectRefusal(.unauthenticated, "unknown_user") { _ = try f.service.resolveCaller(authorization: "Service \(secret)", tenantID: "acme", userID: "ghost") }
        expectRefusal(.unauthenticated, "unknown_user") { _ = try f.service.resolveCaller(authorization: "Service \(secret)", tenantID: "globex", userID: "dev") }
        expectRefusal(.unauthenticated, "incomplete_identity") { _ = try f.service.resolveCaller(authorization: "Service \(secret)", tenantID: "acme", userID: nil) }
        expectRefusal(.unauthenticated, "unknown_credential") { _ = try f.service.resolveCaller(authorization: "Service \(SecretCodec.generate(.service).secret)", tenantID: nil, userID: nil) }
        expectRefusal(.unauthenticated, "unknown_credential") { _ = try f.service.resolveCaller(authorization: "Operator \(secret)", tenantID: nil, userID: nil) }
    }

    @Test("X13: the operator credential from bootstrap, once")
    func operatorBootstrap() throws {
        let f = try Fixture()
        let secret = try #require(try f.service.bootstrap())
        #expect(secret.hasPrefix("ako_"))
        #expect(try f.service.bootstrap() == nil)
        #expect(try f.service.resolveCaller(authorization: "Operator \(secret)", tenantID: nil, userID: nil).via.hasPrefix("operator:opr_"))
        // The stored credential survives a restart of the service.
        let restarted = try APIKeyService(store: f.store, clock: f.clock)
        #expect(try restarted.resolveCaller(authorization: "Operator \(secret)", tenantID: nil, userID: nil).via.hasPrefix("operator:opr_"))
        #expect(try restarted.bootstrap() == nil)
    }

    @Test("X13: a connection's certificate service acts like a Service credential; authorization wins")
    func certificateService() throws {
        let f = try Fixture()
        let resolve = { (authorization: String?, tenant: String?, user: String?) throws(DomainError) in
            try f.service.resolveCaller(authorization: authorization, tenantID: tenant, userID: user, certificateService: ServiceIdentity(name: "gateway", credentialID: "configured:gateway"))
        }
        #expect(try resolve(nil, nil, nil) == .service(name: "gateway"))
        #expect(try resolve("", nil, nil) == .service(name: "gateway"))
        #expect(try resolve(nil, "acme", "dev") == .member(Caller.Member(tenantID: "acme", userID: "dev", via: .service(name: "gateway"))))
        expectRefusal(.unauthenticated, "unknown_user") { _ = try resolve(nil, "acme", "ghost") }
        expectRefusal(.unauthenticated, "incomplete_identity") { _ = try resolve(nil, "acme", nil) }
        let generated = try f.generate(f.dev)
        #expect(try resolve("Bearer \(generated.secret)", nil, nil) == .member(Caller.Member(tenantID: "acme", userID: "dev", via: .apiKey(keyID: generated.key.id))))
        expectRefusal(.unauthenticated, "unknown") { _ = try resolve("Bearer nope", nil, nil) }
    }

    @Test("X13: missing, malformed and unsupported authorization is UNAUTHENTICATED")
    func malformed() throws {
        let f = try Fixture()
        expectRefusal(.unauthenticated, "missing_credentials") { _ = try f.service.resolveCaller(authorization: nil, tenantID: nil, userID: nil) }
        expectRefusal(.unauthenticated, "malformed_credentials") { _ = try f.service.resolveCaller(authorization: "Bearer", tenantID: nil, userID: nil) }
        expectRefusal(.unauthenticated, "unsupported_scheme") { _ = try f.service.resolveCaller(authorization: "Basic abc", tenantID: nil, userID: nil) }
    }

    @Test("X13: authorize reads roles now; a role taken away stops working at once, with a permission.denied event")
    func authorizeNow() throws {
        let f = try Fixture()
        try f.service.authorize(f.admin, .updateSettings)
        _ = try f.service.assignRole(f.admin, userID: "dev", role: .tenantAdmin)
        try f.service.authorize(f.dev, .updateSettings)
        _ = try f.service.removeRole(f.admin, userID: "dev", role: .tenantAdmin)
        let error = expectRefusal(.permissionDenied, "not_tenant_admin", rule: "R3") { try f.service.authorize(f.dev, .updateSettings) }
        #expect(error?.message.contains("TenantAdmin") == true)
        let event = try #require(f.events(EventAction.permissionDenied).last)
        #expect(event.actor == "user:dev" && event.details["operation"] == EventAction.settingsChanged && event.tenantID == "acme")
    }

    @Test("Requirements: operator, verifier, member, tenant admin, generator, key owner")
    func requirements() throws {
        let f = try Fixture()
        try f.service.authorize(.operator, .createTenant)
        expectRefusal(.permissionDenied, "not_operator") { try f.service.authorize(f.admin, .createTenant) }
        try f.service.authorize(f.verifier, .verify)
        try f.service.authorize(f.dev, .verify)  // a service acting for a user
        let bearer = Caller.member(Caller.Member(tenantID: "acme", userID: "dev", via: .apiKey(keyID: "key_x")))
        expectRefusal(.permissionDenied, "not_service") { try f.service.authorize(bearer, .verify) }
        expectRefusal(.permissionDenied, "not_a_user") { try f.service.authorize(f.verifier, .listKeys) }
        expectRefusal(.permissionDenied, "not_a_user") { try f.service.authorize(.operator, .listKeys) }
        try f.service.authorize(f.user("plain"), .listKeys)
        expectRefusal(.permissionDenied, "not_developer", rule: "R4") { try f.service.authorize(f.user("plain"), .generateKey) }
        expectRefusal(.permissionDenied, "no_license", rule: "R17") { try f.service.authorize(f.user("unlicensed"), .generateKey) }
        try f.service.authorize(f.dev, .generateKey)
        // A service acting for nobody may not manage keys.
        expectRefusal(.permissionDenied, "not_a_user") { _ = try f.generate(f.verifier) }
    }

    @Test("X17: a caller by API key reads and manages its owner's keys but cannot generate or change the directory or settings")
    func bearerLimits() throws {
        let f = try Fixture()
        let admin = Caller.member(Caller.Member(tenantID: "acme", userID: "admin", via: .apiKey(keyID: "key_x")))
        try f.service.authorize(admin, .listKeys)
        try f.service.authorize(admin, .getSettings)
        try f.service.authorize(admin, .listEvents)
        for operation in [Operation.generateKey, .updateSettings, .assignRole, .removeRole, .setLicense] {
            expectRefusal(.permissionDenied, "api_key_not_allowed", rule: "X17") { try f.service.authorize(admin, operation) }
        }
    }

    @Test("One decision: generate is refused with R17 for a licensed non-developer in a disabled tenant, on every path")
    func oneDecision() throws {
        let f = try Fixture(enabled: false)
        let plain = f.user("plain")
        let viaCheck = expectRefusal(.failedPrecondition, "api_keys_disabled", rule: "R17") { try f.service.authorize(plain, .generateKey) }
        let viaGenerate = expectRefusal(.failedPrecondition, "api_keys_disabled", rule: "R17") { _ = try f.generate(plain) }
        #expect(viaCheck == viaGenerate)
    }
}

@Suite("X18: service scopes")
struct ServiceScopeTests {
    @Test("X18: a verify-scoped service verifies but cannot act for a user; an act-scoped one only in its tenants")
    func scopes() throws {
        let f = try Fixture()
        _ = try f.addSecondTenant()
        let verifyOnly = ServiceIdentity(name: "gw", credentialID: "configured:gw", scope: .verify)
        let resolve = { (service: ServiceIdentity, tenant: String?, user: String?) throws(DomainError) in
            try f.service.resolveCaller(authorization: nil, tenantID: tenant, userID: user, certificateService: service)
        }
        let gateway = try resolve(verifyOnly, nil, nil)
        try f.service.authorize(gateway, .verify)
        expectRefusal(.permissionDenied, "scope_verify_only", rule: "X18") { _ = try resolve(verifyOnly, "acme", "dev") }
        expectRefusal(.permissionDenied, "not_a_user", rule: "X13") { try f.service.authorize(gateway, .listKeys) }

        let acmeOnly = ServiceIdentity(name: "portal", credentialID: "configured:portal", scope: .act, tenants: ["acme"])
        _ = try resolve(acmeOnly, "acme", "dev")
        expectRefusal(.permissionDenied, "tenant_not_in_scope", rule: "X18") { _ = try resolve(acmeOnly, "globex", "gadmin") }
    }
}
