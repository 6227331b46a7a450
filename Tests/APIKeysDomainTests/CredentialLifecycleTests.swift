import APIKeysDomain
import Testing

/// X18 in the domain, on the in-memory store: what the server's credential methods rest on.
@Suite("X18: credential lifecycle")
struct CredentialLifecycleTests {
    @Test("X18: a configured service credential keeps its scope and tenants; names are unique")
    func configured() throws {
        let f = try Fixture()
        let secret = String(repeating: "s", count: 40)
        try f.service.addConfiguredServiceCredential(name: "billing", secret: secret, scope: .act, tenants: ["acme"])
        let caller = try f.service.resolveCaller(authorization: "Service \(secret)", tenantID: "acme", userID: "admin")
        guard case .member(let member) = caller, case .service(let identity) = member.via else {
            Issue.record("expected a member through a service, got \(caller)")
            return
        }
        #expect(identity == ServiceIdentity(name: "billing", credentialID: "configured:billing", scope: .act, tenants: ["acme"]))
        _ = try f.addSecondTenant()
        expectRefusal(.permissionDenied, "tenant_not_in_scope", rule: "X18") {
            _ = try f.service.resolveCaller(authorization: "Service \(secret)", tenantID: "globex", userID: "gadmin")
        }
        expectRefusal(.invalidArgument, "duplicate_name", rule: "X18") {
            try f.service.addConfiguredServiceCredential(name: "billing", secret: String(repeating: "t", count: 40))
        }
        expectRefusal(.invalidArgument, "tenants_without_act", rule: "X18") {
            try f.service.addConfiguredServiceCredential(name: "edge", secret: secret, scope: .verify, tenants: ["acme"])
        }
        #expect(try f.service.listCredentials(.operator).contains { $0.id == "configured:billing" && $0.isConfigured })
    }

    @Test("X18: rotate keeps both secrets valid; revoke refuses the old one at once and bumps credentialsVersion")
    func rotateAndRevoke() throws {
        let f = try Fixture()
        let created = try f.service.createServiceCredential(.operator, name: "portal", scope: .verify, tenants: [])
        let rotated = try f.service.rotateCredential(.operator, id: created.credential.id)
        #expect(rotated.replaced.id == created.credential.id)
        #expect(rotated.issued.credential.scope == .verify && rotated.issued.credential.name == "portal")
        for (secret, id) in [(created.secret, created.credential.id), (rotated.issued.secret, rotated.issued.credential.id)] {
            let caller = try f.service.resolveCaller(authorization: "Service \(secret)", tenantID: nil, userID: nil)
            #expect(caller == .service(ServiceIdentity(name: "portal", credentialID: id, scope: .verify)))
        }
        let version = f.service.credentialsVersion
        let revoked = try f.service.revokeCredential(.operator, id: created.credential.id)
        #expect(revoked.revokedAt != nil)
        #expect(f.service.credentialsVersion != version)
        expectRefusal(.unauthenticated, "unknown_credential") {
            _ = try f.service.resolveCaller(authorization: "Service \(created.secret)", tenantID: nil, userID: nil)
        }
        // Revoking again changes nothing and writes no second event.
        let events = f.events(EventAction.credentialRevoked).count
        #expect(try f.service.revokeCredential(.operator, id: created.credential.id).revokedAt == revoked.revokedAt)
        #expect(f.events(EventAction.credentialRevoked).count == events)
        expectRefusal(.failedPrecondition, "credential_revoked", rule: "X18") {
            _ = try f.service.rotateCredential(.operator, id: created.credential.id)
        }
        expectRefusal(.notFound, "credential_not_found", rule: "X18") {
            _ = try f.service.revokeCredential(.operator, id: "svc_nothing")
        }
    }

    @Test("X18: the last active operator credential stays; a configured one counts as active")
    func lastOperator() throws {
        let f = try Fixture()
        let first = try #require(try f.service.bootstrap())
        let firstID = try #require(try f.service.listCredentials(.operator).first { $0.kind == .operator }?.id)
        expectRefusal(.failedPrecondition, "last_operator_credential", rule: "X18") {
            _ = try f.service.revokeCredential(.operator, id: firstID)
        }
        try f.service.addConfiguredOperatorCredential(secret: String(repeating: "o", count: 40))
        _ = try f.service.revokeCredential(.operator, id: firstID)
        expectRefusal(.unauthenticated, "unknown_credential") {
            _ = try f.service.resolveCaller(authorization: "Operator \(first)", tenantID: nil, userID: nil)
        }
        expectRefusal(.failedPrecondition, "configured_credential", rule: "X18") {
            _ = try f.service.revokeCredential(.operator, id: "configured:operator")
        }
    }

    @Test("X18: audit events name the credential and via, in tenant \"\", never the secret")
    func auditEvents() throws {
        let f = try Fixture()
        let op = Caller.operatorCredential(id: "opr_someone")
        let created = try f.service.createOperatorCredential(op, name: "oncall")
        let event = try #require(f.events(EventAction.credentialCreated).last)
        #expect(event.tenantID == "" && event.actor == "operator")
        #expect(event.details["credential"] == created.credential.id && event.details["kind"] == "operator")
        #expect(event.details["name"] == "oncall" && event.details["via"] == "operator:opr_someone")
        #expect(!event.details.values.joined(separator: " ").contains(created.secret.suffix(24)))
        expectRefusal(.permissionDenied, "not_operator", rule: "X13") { _ = try f.service.listCredentials(f.admin) }
    }
}
