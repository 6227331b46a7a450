import APIKeysClient
import APIKeysDomain
@testable import APIKeysServer
import APIKeysWire
import Foundation
import Testing

/// Issue 9, finding 12: every method × every kind of caller over the real server, each answer
/// compared with what the domain's one access function (`AccessPolicy.decide`) says.
@Suite("Access: every method × every caller matches AccessPolicy (R3, R4, R13, R17, X1, X5, X13, X17, X18)")
struct AuthorizationTableTests {
    /// One kind of caller: how the client authenticates and who the domain sees.
    struct CallerKind: Sendable, CustomStringConvertible {
        var description: String
        var credential: ClientCredential
        /// Nil when resolving the caller itself is refused, with that refusal.
        var caller: Caller?
        var resolutionRefusal: (code: StatusCode, reason: String)?
        /// The member's directory entry as the test made it.
        var user: APIKeysDomain.User?
        var apiKeysEnabled: Bool?
    }

    /// What one method call needs: a fresh request per cell (so destructive calls do not
    /// disturb the next cell) and the object-level requirement it meets after the method's own.
    struct MethodCase: Sendable {
        var method: RPCMethod
        /// Runs the call; returns nothing on success.
        var call: @Sendable (APIKeysClient, Setup) async throws -> Void
        /// The object rule checked after the method's requirement, for a member of the target tenant.
        var objectRequirement: Requirement?
        /// The request names an object of the tenant under test: another tenant's member gets
        /// NOT_FOUND (X1), before the object rule for keys, after it for users.
        var aimsAtTenant = false
        var lookupBeforeObjectRule = true
    }

    /// The tenant under test and the objects the calls aim at.
    struct Setup: Sendable {
        let tenant: RuleTenant
        /// A key of `dev`'s that no call destroys.
        let devKeyID: String
        let devSecret: String

        /// A fresh service credential (verify scope), made by the operator, for calls that rotate or revoke.
        func freshServiceCredential() async throws -> String {
            let reply = try await tenant.operator.createServiceCredential(APIKeysV1.CreateServiceCredentialRequest(
                name: "cell-" + UUID().uuidString.lowercased().prefix(8), scope: .verify))
            return reply.credential?.id ?? ""
        }

        /// A fresh Active key of `dev`, for calls that revoke or delete.
        func freshDevKey() async throws -> String {
            try await tenant.generate("dev", name: "target").key.id
        }
    }

    static func domainUser(_ tenant: String, _ id: String, _ roles: Set<APIKeysDomain.Role>, licensed: Bool) -> APIKeysDomain.User {
        APIKeysDomain.User(tenantID: tenant, userID: id, displayName: id, roles: roles, licensed: licensed, createdAt: 0)
    }

    static let methods: [MethodCase] = [
        MethodCase(method: APIKeysV1.Directory.Method.createTenant.rpc, call: { c, _ in
            _ = try await c.createTenant(APIKeysV1.CreateTenantRequest(tenantID: "t-" + UUID().uuidString.lowercased().prefix(12), name: "T"))
        }),
        MethodCase(method: APIKeysV1.Directory.Method.createUser.rpc, call: { c, s in
            _ = try await c.createUser(APIKeysV1.CreateUserRequest(tenantID: s.tenant.id, userID: "u-" + UUID().uuidString.prefix(8), displayName: "U"))
        }),
        MethodCase(method: APIKeysV1.Directory.Method.removeUser.rpc, call: { c, s in
            let doomed = "r-" + UUID().uuidString.prefix(8)
            try await s.tenant.addUser(doomed)
            _ = try await c.removeUser(APIKeysV1.RemoveUserRequest(tenantID: s.tenant.id, userID: doomed))
        }),
        MethodCase(method: APIKeysV1.Directory.Method.createServiceCredential.rpc, call: { c, _ in
            _ = try await c.createServiceCredential(APIKeysV1.CreateServiceCredentialRequest(name: "svc-" + UUID().uuidString.lowercased().prefix(8)))
        }),
        // X18: the credential lifecycle; each cell rotates or revokes a credential of its own.
        MethodCase(method: APIKeysV1.Directory.Method.createOperatorCredential.rpc, call: { c, _ in
            _ = try await c.createOperatorCredential(APIKeysV1.CreateOperatorCredentialRequest(name: "op-" + UUID().uuidString.lowercased().prefix(8)))
        }),
        MethodCase(method: APIKeysV1.Directory.Method.listCredentials.rpc, call: { c, _ in
            _ = try await c.listCredentials()
        }),
        MethodCase(method: APIKeysV1.Directory.Method.rotateCredential.rpc, call: { c, s in
            _ = try await c.rotateCredential(APIKeysV1.RotateCredentialRequest(credentialID: try await s.freshServiceCredential()))
        }),
        MethodCase(method: APIKeysV1.Directory.Method.revokeCredential.rpc, call: { c, s in
            _ = try await c.revokeCredential(APIKeysV1.RevokeCredentialRequest(credentialID: try await s.freshServiceCredential()))
        }),
        MethodCase(method: APIKeysV1.Directory.Method.assignRole.rpc, call: { c, _ in
            _ = try await c.assignRole(APIKeysV1.AssignRoleRequest(userID: "target", role: .developer))
        }, aimsAtTenant: true),
        MethodCase(method: APIKeysV1.Directory.Method.removeRole.rpc, call: { c, _ in
            _ = try await c.removeRole(APIKeysV1.RemoveRoleRequest(userID: "target", role: .developer))
        }, aimsAtTenant: true),
        MethodCase(method: APIKeysV1.Directory.Method.setLicense.rpc, call: { c, _ in
            _ = try await c.setLicense(APIKeysV1.SetLicenseRequest(userID: "target", licensed: true))
        }, aimsAtTenant: true),
        MethodCase(method: APIKeysV1.Directory.Method.getUser.rpc, call: { c, _ in
            _ = try await c.getUser(APIKeysV1.GetUserRequest(userID: "dev"))
        }, objectRequirement: .userReader(userID: "dev"), aimsAtTenant: true, lookupBeforeObjectRule: false),
        MethodCase(method: APIKeysV1.Directory.Method.listUsers.rpc, call: { c, _ in
            _ = try await c.listUsers(APIKeysV1.ListUsersRequest())
        }),
        MethodCase(method: APIKeysV1.Settings.Method.get.rpc, call: { c, _ in
            _ = try await c.getSettings()
        }),
        MethodCase(method: APIKeysV1.Settings.Method.update.rpc, call: { c, _ in
            _ = try await c.updateSettings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 1000))
        }),
        MethodCase(method: APIKeysV1.Keys.Method.generate.rpc, call: { c, _ in
            _ = try await c.generateKey(APIKeysV1.GenerateKeyRequest(name: "cell"))
        }),
        MethodCase(method: APIKeysV1.Keys.Method.list.rpc, call: { c, _ in
            _ = try await c.listKeys(APIKeysV1.ListKeysRequest())
        }),
        MethodCase(method: APIKeysV1.Keys.Method.get.rpc, call: { c, s in
            _ = try await c.getKey(APIKeysV1.GetKeyRequest(keyID: s.devKeyID))
        }, objectRequirement: .keyReader(owner: "dev"), aimsAtTenant: true),
        MethodCase(method: APIKeysV1.Keys.Method.rename.rpc, call: { c, s in
            _ = try await c.renameKey(APIKeysV1.RenameKeyRequest(keyID: s.devKeyID, name: "renamed"))
        }, objectRequirement: .keyRenamer(owner: "dev"), aimsAtTenant: true),
        MethodCase(method: APIKeysV1.Keys.Method.revoke.rpc, call: { c, s in
            _ = try await c.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: try await s.freshDevKey()))
        }, objectRequirement: .keyRevoker(owner: "dev"), aimsAtTenant: true),
        MethodCase(method: APIKeysV1.Keys.Method.revokeMany.rpc, call: { c, s in
            let id = try await s.freshDevKey()
            let results = try await c.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: [id])).results
            // X6: the per-key refusal is reported in the result, not as the call's status.
            if let result = results.first, result.outcome != .revoked {
                let code: StatusCode = result.outcome == .notFound ? .notFound : .permissionDenied
                throw RPCError(code: code, message: result.message)
            }
        }, objectRequirement: .keyRevoker(owner: "dev"), aimsAtTenant: true),
        MethodCase(method: APIKeysV1.Keys.Method.delete.rpc, call: { c, s in
            _ = try await c.deleteKey(APIKeysV1.DeleteKeyRequest(keyID: try await s.freshDevKey()))
        }, objectRequirement: .keyDeleter(owner: "dev"), aimsAtTenant: true),
        MethodCase(method: APIKeysV1.Verification.Method.verify.rpc, call: { c, s in
            _ = try await c.verify(APIKeysV1.VerifyRequest(secret: s.devSecret))
        }),
        MethodCase(method: APIKeysV1.Events.Method.list.rpc, call: { c, _ in
            _ = try await c.listEvents(APIKeysV1.ListEventsRequest(pageSize: 1))
        }),
    ]

    @Test("the table covers exactly the methods the server routes")
    func coverage() {
        #expect(Set(Self.methods.map(\.method)) == Set(MethodTable.operations.keys))
    }

    @Test("every method × every caller: the status, rule, reason and message are AccessPolicy's")
    func table() async throws {
        let t = try await RuleTenant.make(enabled: true, adminIsDeveloper: true)
        defer { Task { await t.close() } }
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 1000))
        try await t.addUser("dev")
        try await t.addUser("plain", roles: [])
        try await t.addUser("unlicensed", roles: [.developer], licensed: false)
        try await t.addUser("target", roles: [])
        try await t.addUser("gone")
        _ = try await t.operator.removeUser(APIKeysV1.RemoveUserRequest(tenantID: t.id, userID: "gone"))
        let devKey = try await t.generate("dev", name: "kept")
        let adminKey = try await t.generate(t.admin, name: "admin's")
        let devBearerKey = try await t.generate("dev", name: "dev's")

        let other = try await RuleTenant.make(enabled: true, adminIsDeveloper: true)
        defer { Task { await other.close() } }
        let disabled = try await RuleTenant.make(enabled: true)
        defer { Task { await disabled.close() } }
        try await disabled.addUser("ddev")
        let disabledKey = try await disabled.generate("ddev")
        _ = try await disabled.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false))

        let secret = t.shared.serviceSecret
        let console = ServiceIdentity(name: "console", credentialID: "")
        // X18: a verify-scoped gateway, and a console limited to the other tenant.
        let gatewayName = "gw-" + UUID().uuidString.lowercased().prefix(8)
        let gatewaySecret = try await t.operator.createServiceCredential(APIKeysV1.CreateServiceCredentialRequest(name: gatewayName, scope: .verify)).secret
        let gateway = ServiceIdentity(name: gatewayName, credentialID: "", scope: .verify)
        let elsewhereSecret = try await t.operator.createServiceCredential(APIKeysV1.CreateServiceCredentialRequest(
            name: "only-" + UUID().uuidString.lowercased().prefix(8), scope: .act, tenants: [other.id])).secret
        func viaService(_ tenant: String, _ user: String, _ roles: Set<APIKeysDomain.Role>, licensed: Bool = true, enabled: Bool = true) -> CallerKind {
            CallerKind(
                description: "service for \(user)@\(tenant == t.id ? "tenant" : tenant == other.id ? "other tenant" : "disabled tenant")",
                credential: .service(secret, tenant: tenant, user: user),
                caller: .member(Caller.Member(tenantID: tenant, userID: user, via: .service(console))),
                user: Self.domainUser(tenant, user, roles, licensed: licensed), apiKeysEnabled: enabled)
        }
        func bearer(_ secret: String, _ user: String, _ roles: Set<APIKeysDomain.Role>, keyID: String) -> CallerKind {
            CallerKind(
                description: "API key of \(user)", credential: .apiKey(secret),
                caller: .member(Caller.Member(tenantID: t.id, userID: user, via: .apiKey(keyID: keyID))),
                user: Self.domainUser(t.id, user, roles, licensed: true), apiKeysEnabled: true)
        }
        let callers: [CallerKind] = [
            CallerKind(description: "operator", credential: .operator(t.shared.operatorSecret), caller: .operator),
            CallerKind(description: "service for nobody", credential: .service(secret), caller: .service(console)),
            viaService(t.id, t.admin, [.tenantAdmin, .developer]),
            viaService(t.id, "dev", [.developer]),
            viaService(t.id, "plain", []),
            viaService(t.id, "unlicensed", [.developer], licensed: false),
            bearer(adminKey.secret, t.admin, [.tenantAdmin, .developer], keyID: adminKey.key.id),
            bearer(devBearerKey.secret, "dev", [.developer], keyID: devBearerKey.key.id),
            viaService(other.id, other.admin, [.tenantAdmin, .developer]),
            viaService(disabled.id, "ddev", [.developer], enabled: false),
            CallerKind(description: "verify-scoped service", credential: .service(gatewaySecret), caller: .service(gateway)),
            CallerKind(description: "verify-scoped service acting for the admin", credential: .service(gatewaySecret, tenant: t.id, user: t.admin),
                       resolutionRefusal: (.permissionDenied, "scope_verify_only")),
            CallerKind(description: "service limited to another tenant acting for the admin",
                       credential: .service(elsewhereSecret, tenant: t.id, user: t.admin),
                       resolutionRefusal: (.permissionDenied, "tenant_not_in_scope")),
            CallerKind(description: "service for a removed user", credential: .service(secret, tenant: t.id, user: "gone"),
                       resolutionRefusal: (.unauthenticated, "unknown_user")),
            CallerKind(description: "API key in a disabled tenant", credential: .apiKey(disabledKey.secret),
                       resolutionRefusal: (.unauthenticated, "disabled")),
        ]

        let setup = Setup(tenant: t, devKeyID: devKey.key.id, devSecret: devKey.secret)
        var cells = 0
        for method in Self.methods {
            let operation = MethodTable.operation(for: method.method)
            for kind in callers {
                cells += 1
                let cell = "\(method.method) as \(kind.description)"
                var expected: DomainError?
                var expectedResolution = kind.resolutionRefusal
                if let caller = kind.caller {
                    expected = AccessPolicy.decide(operation.requirement, caller: caller, user: kind.user, apiKeysEnabled: kind.apiKeysEnabled)
                    let elsewhere = method.aimsAtTenant && caller.tenantID != t.id
                    if expected == nil, elsewhere, method.lookupBeforeObjectRule {
                        expectedResolution = (.notFound, "")  // X1: another tenant's object does not exist
                    } else if expected == nil, let object = method.objectRequirement {
                        expected = AccessPolicy.decide(object, caller: caller, user: kind.user, apiKeysEnabled: kind.apiKeysEnabled)
                    }
                    if expected == nil, elsewhere { expectedResolution = (.notFound, "") }
                }
                do {
                    try await method.call(t.operator.acting(as: kind.credential), setup)
                    #expect(expected == nil && expectedResolution == nil, "\(cell): succeeded, but expected \(String(describing: expected)) \(String(describing: expectedResolution))")
                } catch let error as RPCError {
                    if let expected {
                        #expect(Int(error.code.rawValue) == expected.code.rawValue, "\(cell): \(error)")
                        if method.method != APIKeysV1.Keys.Method.revokeMany.rpc {
                            #expect(error.errorDetails?.reason == expected.reason, "\(cell): \(error)")
                            #expect(error.errorDetails?.rule == expected.rule, "\(cell): \(error)")
                        }
                        #expect(error.message == expected.message, "\(cell)")
                    } else if let expectedResolution {
                        #expect(error.code == expectedResolution.code, "\(cell): \(error)")
                        if !expectedResolution.reason.isEmpty {
                            #expect(error.errorDetails?.reason == expectedResolution.reason, "\(cell): \(error)")
                        }
                    } else {
                        Issue.record("\(cell): refused, but AccessPolicy allows it: \(error)")
                    }
                }
            }
        }
        #expect(cells == Self.methods.count * callers.count)
    }
}
