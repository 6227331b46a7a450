import APIKeysClient
import APIKeysDomain
import APIKeysServer
import APIKeysWire
import Foundation
import Testing

/// X18 over the real server (TCP, SQLite file): credential scopes, listing, rotation,
/// revocation and the operator's audit log (finding 6 of issue 9).
@Suite("X18: credentials")
struct CredentialRuleTests {
    /// The operator creates a service credential through the API.
    static func create(
        _ tenant: RuleTenant, _ name: String, scope: APIKeysV1.CredentialScope, tenants: [String] = []
    ) async throws -> (info: APIKeysV1.CredentialInfo, secret: String) {
        let reply = try await tenant.operator.createServiceCredential(
            APIKeysV1.CreateServiceCredentialRequest(name: name, scope: scope, tenants: tenants))
        return (try #require(reply.credential), reply.secret)
    }

    @Test("X18: a verify-scoped service credential verifies keys but cannot act as any user")
    func verifyScopeCannotAct() async throws {
        let t = try await RuleTenant.make(adminIsDeveloper: true)
        let verifier = try await Self.create(t, "edge-\(t.id)", scope: .verify)
        #expect(verifier.info.scope == .verify)
        let key = try await t.generate(t.admin)
        let service = t.operator.acting(as: .service(verifier.secret))
        #expect(try await service.verify(APIKeysV1.VerifyRequest(secret: key.secret)).principal?.keyID == key.key.id)
        for user in [t.admin, "ghost"] {
            await expectRefused(.permissionDenied, rule: "X18", reason: "scope_verify_only") {
                try await t.operator.acting(as: .service(verifier.secret, tenant: t.id, user: user)).listUsers()
            }
        }
        await expectRefused(.permissionDenied, rule: "X18", reason: "scope_verify_only") {
            try await t.operator.acting(as: .service(verifier.secret, tenant: t.id, user: t.admin))
                .generateKey(APIKeysV1.GenerateKeyRequest(name: "escalated"))
        }
        await t.close()
    }

    @Test("X18: an act-scoped credential limited to tenant A acts in A, never in B")
    func actScopeLimitedToItsTenants() async throws {
        let a = try await RuleTenant.make()
        let b = try await RuleTenant.make()
        let portal = try await Self.create(a, "portal-\(a.id)", scope: .act, tenants: [a.id])
        #expect(portal.info.tenants == [a.id])
        let inA = a.operator.acting(as: .service(portal.secret, tenant: a.id, user: a.admin))
        #expect(try await inA.listUsers().users.contains { $0.userID == a.admin })
        await expectRefused(.permissionDenied, rule: "X18", reason: "tenant_not_in_scope") {
            try await a.operator.acting(as: .service(portal.secret, tenant: b.id, user: b.admin)).listUsers()
        }
        await expectRefused(.permissionDenied, rule: "X18", reason: "tenant_not_in_scope") {
            try await a.operator.acting(as: .service(portal.secret, tenant: b.id, user: b.admin))
                .updateSettings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false))
        }
        // Its tenants bound what it verifies too: another tenant's key is unknown to it.
        try await b.addUser("bob")
        let (_, bobSecret) = try await b.generate("bob")
        try await a.addUser("ann")
        let (_, annSecret) = try await a.generate("ann")
        #expect(try await a.operator.acting(as: .service(portal.secret)).verify(APIKeysV1.VerifyRequest(secret: annSecret)).principal?.userID == "ann")
        await expectRefused(.unauthenticated, rule: nil, reason: "unknown") {
            try await a.operator.acting(as: .service(portal.secret)).verify(APIKeysV1.VerifyRequest(secret: bobSecret))
        }
        // Tenants narrow the scope act only.
        await expectRefused(.invalidArgument, rule: "X18", reason: "tenants_without_act") {
            try await a.operator.createServiceCredential(APIKeysV1.CreateServiceCredentialRequest(name: "odd", scope: .verify, tenants: [a.id]))
        }
        await a.close()
        await b.close()
    }

    @Test("X18: after a rotation both secrets work until the old one is revoked; revoked is refused on the very next call, also on Verify")
    func rotateThenRevoke() async throws {
        let t = try await RuleTenant.make(adminIsDeveloper: true)
        let key = try await t.generate(t.admin)
        let old = try await Self.create(t, "gw-\(t.id)", scope: .act)
        let oldClient = t.operator.acting(as: .service(old.secret))
        // Twice: the Verify hot path caches the caller a service credential resolves to.
        for _ in 0..<2 { _ = try await oldClient.verify(APIKeysV1.VerifyRequest(secret: key.secret)) }

        let rotated = try await t.operator.rotateCredential(APIKeysV1.RotateCredentialRequest(credentialID: old.info.id))
        let new = try #require(rotated.credential)
        #expect(rotated.replacesID == old.info.id)
        #expect(new.id != old.info.id && new.name == old.info.name && new.scope == .act)
        #expect(rotated.secret != old.secret)
        let newClient = t.operator.acting(as: .service(rotated.secret))
        for secret in [old.secret, rotated.secret] {
            let service = t.operator.acting(as: .service(secret))
            #expect(try await service.verify(APIKeysV1.VerifyRequest(secret: key.secret)).principal?.userID == t.admin)
            let forAdmin = t.operator.acting(as: .service(secret, tenant: t.id, user: t.admin))
            #expect(try await forAdmin.listUsers().users.count == 1)
        }

        let revoked = try await t.operator.revokeCredential(APIKeysV1.RevokeCredentialRequest(credentialID: old.info.id))
        #expect(revoked.credential?.revokedAtMs ?? 0 > 0)
        await expectRefused(.unauthenticated, rule: nil, reason: "unknown_credential", "the cached Verify caller is dropped") {
            try await oldClient.verify(APIKeysV1.VerifyRequest(secret: key.secret))
        }
        await expectRefused(.unauthenticated, rule: nil, reason: "unknown_credential") {
            try await oldClient.acting(as: .service(old.secret, tenant: t.id, user: t.admin)).listUsers()
        }
        #expect(try await newClient.verify(APIKeysV1.VerifyRequest(secret: key.secret)).principal?.keyID == key.key.id)
        // A revoked credential cannot be rotated back to life.
        await expectRefused(.failedPrecondition, rule: "X18", reason: "credential_revoked") {
            try await t.operator.rotateCredential(APIKeysV1.RotateCredentialRequest(credentialID: old.info.id))
        }

        // The listing shows both, never a secret.
        let listing = try await t.operator.listCredentials()
        let listed = Dictionary(listing.credentials.map { ($0.id, $0) }) { first, _ in first }
        #expect(listed[old.info.id]?.revokedAtMs == revoked.credential?.revokedAtMs)
        #expect(listed[new.id]?.revokedAtMs == 0)
        #expect(listed[new.id]?.kind == .service)
        #expect(listing.credentials.contains { $0.kind == .operator && $0.revokedAtMs == 0 })
        for secret in [old.secret, rotated.secret, t.shared.operatorSecret] {
            #expect(!leaks(secret, in: listing.serializedBytes()))
        }
        await t.close()
    }

    @Test("X18: only the operator manages credentials")
    func operatorOnly() async throws {
        let t = try await RuleTenant.make()
        let callers: [APIKeysClient] = [t.adminClient, t.verifier]
        for client in callers {
            await expectRefused(.permissionDenied, rule: "X13", reason: nil) { try await client.listCredentials() }
            await expectRefused(.permissionDenied, rule: "X13", reason: nil) {
                try await client.createOperatorCredential(APIKeysV1.CreateOperatorCredentialRequest(name: "mine"))
            }
            await expectRefused(.permissionDenied, rule: "X13", reason: nil) {
                try await client.revokeCredential(APIKeysV1.RevokeCredentialRequest(credentialID: "svc_anything"))
            }
        }
        await expectRefused(.notFound, rule: "X18", reason: "credential_not_found") {
            try await t.operator.revokeCredential(APIKeysV1.RevokeCredentialRequest(credentialID: "svc_nosuchcredential"))
        }
        await t.close()
    }

    @Test("X18: the last active operator credential cannot be revoked; a revoked operator credential stops at once")
    func lastOperatorCredential() async throws {
        let server = try await TestServer.start()
        let first = try #require(server.newOperatorCredential)
        let op = try await APIKeysClient.connect(host: server.host, port: server.port, credential: .operator(first))
        let firstID = try #require(try await op.listCredentials().credentials.first { $0.kind == .operator }?.id)
        await expectRefused(.failedPrecondition, rule: "X18", reason: "last_operator_credential") {
            try await op.revokeCredential(APIKeysV1.RevokeCredentialRequest(credentialID: firstID))
        }
        let second = try await op.createOperatorCredential(APIKeysV1.CreateOperatorCredentialRequest(name: "oncall"))
        let secondID = try #require(second.credential?.id)
        #expect(second.credential?.name == "oncall" && second.secret.hasPrefix("ako_"))
        let op2 = op.acting(as: .operator(second.secret))
        _ = try await op2.revokeCredential(APIKeysV1.RevokeCredentialRequest(credentialID: firstID))
        await expectRefused(.unauthenticated, rule: nil, reason: "unknown_credential") { try await op.listCredentials() }
        await expectRefused(.failedPrecondition, rule: "X18", reason: "last_operator_credential") {
            try await op2.revokeCredential(APIKeysV1.RevokeCredentialRequest(credentialID: secondID))
        }
        #expect(try await op2.listCredentials().credentials.count == 2)
        await op.close()
        await server.stop()
    }

    @Test("X18: every credential change is an event in the operator's audit log, naming the credential and via, never a secret")
    func auditLog() async throws {
        let server = try await TestServer.start()
        let operatorSecret = try #require(server.newOperatorCredential)
        let op = try await APIKeysClient.connect(host: server.host, port: server.port, credential: .operator(operatorSecret))
        let operatorID = try #require(try await op.listCredentials().credentials.first?.id)
        let created = try await op.createServiceCredential(APIKeysV1.CreateServiceCredentialRequest(name: "portal", scope: .act, tenants: ["acme"]))
        let createdID = try #require(created.credential?.id)
        let rotated = try await op.rotateCredential(APIKeysV1.RotateCredentialRequest(credentialID: createdID))
        _ = try await op.revokeCredential(APIKeysV1.RevokeCredentialRequest(credentialID: createdID))
        let extra = try await op.createOperatorCredential(APIKeysV1.CreateOperatorCredentialRequest(name: "oncall"))

        let page = try await op.listEvents(APIKeysV1.ListEventsRequest(pageSize: 100))
        let events = page.events
        let actions = events.map(\.action)
        #expect(actions == ["credential.created", "credential.revoked", "credential.rotated", "credential.created", "credential.created"])
        #expect(events.allSatisfy { $0.tenantID.isEmpty && $0.actor == "operator" })
        let bootstrap = try #require(events.last)
        #expect(bootstrap.details["credential"] == operatorID && bootstrap.details["kind"] == "operator")
        #expect(bootstrap.details["via"] == "bootstrap")
        let made = events[3]
        #expect(made.details["credential"] == createdID && made.details["name"] == "portal")
        #expect(made.details["scope"] == "act" && made.details["tenants"] == "acme")
        #expect(made.details["via"] == "operator:\(operatorID)")
        #expect(events[2].details["replaces"] == createdID && events[2].details["credential"] == rotated.credential?.id)
        #expect(events[1].details["credential"] == createdID)
        #expect(events[0].details["name"] == "oncall" && events[0].details["kind"] == "operator")
        for secret in [operatorSecret, created.secret, rotated.secret, extra.secret] {
            #expect(!leaks(secret, in: page.serializedBytes()))
        }
        await op.close()
        await server.stop()
    }

    @Test("X18: configured credentials are listed with their scope, cannot be rotated here, and a verify one cannot act")
    func configuredCredentials() async throws {
        let verifySecret = String(repeating: "v", count: 40)
        let server = try await TestServer.start { configuration in
            configuration.serviceCredentials = [.init(name: "edge", secret: verifySecret, scope: .verify)]
        }
        let operatorSecret = try #require(server.newOperatorCredential)
        let op = try await APIKeysClient.connect(host: server.host, port: server.port, credential: .operator(operatorSecret))
        _ = try await op.createTenant(APIKeysV1.CreateTenantRequest(tenantID: "acme", name: "Acme"))
        _ = try await op.createUser(APIKeysV1.CreateUserRequest(tenantID: "acme", userID: "alice", roles: [.tenantAdmin], licensed: true))
        let edge = try #require(try await op.listCredentials().credentials.first { $0.id == "configured:edge" })
        #expect(edge.configured && edge.scope == .verify && edge.kind == .service)
        await expectRefused(.failedPrecondition, rule: "X18", reason: "configured_credential") {
            try await op.rotateCredential(APIKeysV1.RotateCredentialRequest(credentialID: "configured:edge"))
        }
        await expectRefused(.permissionDenied, rule: "X18", reason: "scope_verify_only") {
            try await op.acting(as: .service(verifySecret, tenant: "acme", user: "alice")).listUsers()
        }
        await expectRefused(.unauthenticated, rule: nil, reason: nil) {
            try await op.acting(as: .service(verifySecret)).verify(APIKeysV1.VerifyRequest(secret: "aks_nothing"))
        }
        await op.close()
        await server.stop()
    }
}

