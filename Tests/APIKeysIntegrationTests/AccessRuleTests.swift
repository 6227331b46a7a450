import APIKeysClient
import APIKeysWire
import Foundation
import Testing

/// Who may do what: R1–R5, R13, R17, R19, X5, X13, X14, over TCP to a real server.
@Suite("Rules: access")
struct AccessRuleTests {
    @Test("R1: a key authenticates its owner: Bearer calls act as the owner; verify returns the principal")
    func keyAuthenticatesOwner() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (key, secret) = try await t.generate("dana", name: "dana's ci")

        // Bearer: acts as dana, without any x-user-id (X17: reads and her own keys, no minting).
        let asDana = t.bearer(secret)
        let second = try await t.generate("dana", name: "made through the console").key
        let listed = try await asDana.listKeys().keys.map(\.id)
        #expect(Set(listed) == [key.id, second.id])
        let renamed = try #require(try await asDana.renameKey(APIKeysV1.RenameKeyRequest(keyID: second.id, name: "renamed by key")).key)
        #expect(renamed.ownerID == "dana" && renamed.tenantID == t.id)
        let events = try await t.events(APIKeysV1.ListEventsRequest(keyID: second.id, action: "key.renamed"))
        #expect(events.first?.actor == "user:dana")
        #expect(events.first?.details["via"] == "key:\(key.id)")

        let principal = try #require(try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)).principal)
        #expect(principal.tenantID == t.id)
        #expect(principal.userID == "dana")
        #expect(principal.keyID == key.id)
        #expect(principal.roles == ["Developer"])
        #expect(principal.expiresAtMs == key.expiresAtMs)
        await t.close()
    }

    @Test("R2: API keys are disabled by default; generate is refused until an admin enables them")
    func disabledByDefault() async throws {
        let t = try await RuleTenant.make(enabled: false)
        try await t.addUser("dana")
        let settings = try #require(try await t.adminClient.getSettings().settings)
        #expect(settings.apiKeysEnabled == false)
        await expectRefused(.failedPrecondition, rule: "R17", reason: "api_keys_disabled") {
            try await t.generate("dana")
        }
        #expect(try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: true)).apiKeysEnabled)
        _ = try await t.generate("dana")
        await t.close()
    }

    @Test("R3: the admin edits settings and revokes; a non-admin is refused PERMISSION_DENIED saying what is missing")
    func adminEditsAndRevokes() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (key, _) = try await t.generate("dana")

        let updated = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxExpirySeconds: 7200, maxKeysPerUser: 7))
        #expect(updated.maxExpirySeconds == 7200 && updated.maxKeysPerUser == 7)
        let revoked = try #require(try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id, reason: "abuse")).key)
        #expect(revoked.status == .revoked)

        let dana = t.as("dana")
        let error = await expectRefused(.permissionDenied, rule: "R3", reason: "not_tenant_admin") {
            try await dana.updateSettings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 100))
        }
        #expect(error?.message.contains("TenantAdmin") == true, "the message says which role is missing")
        await expectRefused(.permissionDenied, rule: "R3", reason: "not_tenant_admin") {
            try await dana.getSettings()
        }
        #expect(try await t.adminClient.getSettings().settings?.maxKeysPerUser == 7)
        // The tenant keeps an admin: the last one cannot lose the role.
        await expectRefused(.failedPrecondition, rule: "R3", reason: "last_tenant_admin") {
            try await t.adminClient.removeRole(APIKeysV1.RemoveRoleRequest(userID: t.admin, role: .tenantAdmin))
        }
        await t.close()
    }

    @Test("R4: generating and deleting need the Developer role")
    func developerRole() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("lars", roles: [], licensed: true)
        let error = await expectRefused(.permissionDenied, rule: "R4", reason: "not_developer") {
            try await t.generate("lars")
        }
        #expect(error?.message.contains("Developer") == true)

        let (key, _) = try await t.generate("dana")
        _ = try await t.adminClient.removeRole(APIKeysV1.RemoveRoleRequest(userID: "dana", role: .developer))
        let deleteError = await expectRefused(.permissionDenied, rule: "R4", reason: "not_developer") {
            try await t.as("dana").deleteKey(APIKeysV1.DeleteKeyRequest(keyID: key.id))
        }
        #expect(deleteError?.message.contains("Developer") == true)
        #expect(try await t.key(key.id).status == .active)

        _ = try await t.adminClient.assignRole(APIKeysV1.AssignRoleRequest(userID: "dana", role: .developer))
        _ = try await t.as("dana").deleteKey(APIKeysV1.DeleteKeyRequest(keyID: key.id))
        await t.close()
    }

    @Test("R5: a tenant admin assigns the Developer role to others and to themselves")
    func adminAssignsDeveloper() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("bob", roles: [], licensed: true)
        let bob = try #require(try await t.adminClient.assignRole(APIKeysV1.AssignRoleRequest(userID: "bob", role: .developer)).user)
        #expect(bob.roles.contains(.developer))
        _ = try await t.generate("bob")

        await expectRefused(.permissionDenied, rule: "R4", reason: "not_developer") { try await t.generate(t.admin) }
        let me = try #require(try await t.adminClient.assignRole(APIKeysV1.AssignRoleRequest(userID: t.admin, role: .developer)).user)
        #expect(Set(me.roles) == [.developer, .tenantAdmin])
        _ = try await t.generate(t.admin)

        // Only a tenant admin assigns roles.
        await expectRefused(.permissionDenied, rule: "R3", reason: "not_tenant_admin") {
            try await t.as("bob").assignRole(APIKeysV1.AssignRoleRequest(userID: "bob", role: .tenantAdmin))
        }
        let events = try await t.events(APIKeysV1.ListEventsRequest(action: "user.role_assigned"))
        #expect(Set(events.compactMap { $0.details["user"] }) == ["bob", t.admin])
        await t.close()
    }

    @Test("R13: an admin cannot delete another user's key but can revoke it; the owner can delete")
    func adminRevokesOwnerDeletes() async throws {
        let t = try await RuleTenant.make(adminIsDeveloper: true)
        try await t.addUser("dana")
        let (first, _) = try await t.generate("dana")
        let (second, secondSecret) = try await t.generate("dana")

        let error = await expectRefused(.permissionDenied, rule: "R13", reason: "not_owner") {
            try await t.adminClient.deleteKey(APIKeysV1.DeleteKeyRequest(keyID: first.id))
        }
        #expect(error?.message.contains("revoke") == true, "the admin is told to revoke instead")
        #expect(try await t.key(first.id).status == .active)
        #expect(try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: first.id)).key?.status == .revoked)

        _ = try await t.as("dana").deleteKey(APIKeysV1.DeleteKeyRequest(keyID: second.id))
        await expectRefused(.notFound, rule: "X1", reason: "key_not_found") { try await t.key(second.id) }
        await expectRefused(.unauthenticated, rule: "X8", reason: "unknown") {
            try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secondSecret))
        }
        await t.close()
    }

    @Test("R17: generate is refused for each missing prerequisite separately: license, enabled, Developer")
    func generatePrerequisites() async throws {
        let t = try await RuleTenant.make(enabled: false)
        try await t.addUser("unlicensed", roles: [.developer], licensed: false)
        try await t.addUser("licensed", roles: [.developer], licensed: true)
        try await t.addUser("plain", roles: [], licensed: true)

        // Only the tenant setting is missing.
        let disabled = await expectRefused(.failedPrecondition, rule: "R17", reason: "api_keys_disabled") {
            try await t.generate("licensed")
        }
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: true))
        // Only the license is missing.
        let noLicense = await expectRefused(.permissionDenied, rule: "R17", reason: "no_license") {
            try await t.generate("unlicensed")
        }
        // Only the Developer role is missing.
        let noRole = await expectRefused(.permissionDenied, rule: "R4", reason: "not_developer") {
            try await t.generate("plain")
        }
        #expect(disabled?.message.contains("disabled") == true)
        #expect(noLicense?.message.contains("license") == true)
        #expect(noRole?.message.contains("Developer") == true)
        // With all three, it works; each refusal was an event.
        _ = try await t.generate("licensed")
        let refusals = try await t.events().filter { $0.outcome == "denied" }
        #expect(Set(refusals.compactMap { $0.details["reason"] }).isSuperset(of: ["api_keys_disabled", "no_license", "not_developer"]))
        await t.close()
    }

    @Test("R19: the owner renames and deletes their key; others cannot rename it")
    func ownerRenamesAndDeletes() async throws {
        let t = try await RuleTenant.make(adminIsDeveloper: true)
        try await t.addUser("dana")
        let (key, _) = try await t.generate("dana", name: "old name")
        try await Task.sleep(for: .milliseconds(5))
        let renamed = try #require(try await t.as("dana").renameKey(APIKeysV1.RenameKeyRequest(keyID: key.id, name: "new name")).key)
        #expect(renamed.name == "new name")
        #expect(renamed.updatedAtMs > key.updatedAtMs)
        #expect(renamed.createdAtMs == key.createdAtMs)
        #expect(try await t.key(key.id).name == "new name")

        await expectRefused(.permissionDenied, rule: "R19", reason: "not_owner") {
            try await t.adminClient.renameKey(APIKeysV1.RenameKeyRequest(keyID: key.id, name: "admin's name"))
        }
        _ = try await t.as("dana").deleteKey(APIKeysV1.DeleteKeyRequest(keyID: key.id))
        #expect(try await t.allKeys().isEmpty)
        let events = try await t.events(APIKeysV1.ListEventsRequest(keyID: key.id))
        #expect(events.filter { $0.outcome == "success" }.map(\.action) == ["key.deleted", "key.renamed", "key.generated"])
        #expect(events.contains { $0.action == "permission.denied" && $0.actor == "user:admin" })
        await t.close()
    }

    @Test("X5: owners revoke their own keys; other developers cannot")
    func ownersRevoke() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("erik")
        let (danaKey, _) = try await t.generate("dana")
        let (erikKey, _) = try await t.generate("erik")

        #expect(try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: danaKey.id, reason: "leaked")).key?.status == .revoked)
        let error = await expectRefused(.permissionDenied, rule: "X5", reason: "not_owner") {
            try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: erikKey.id))
        }
        #expect(error?.message.contains("owner") == true)
        #expect(try await t.key(erikKey.id).status == .active)
        let denied = try await t.events(APIKeysV1.ListEventsRequest(action: "permission.denied", actor: "user:dana"))
        #expect(denied.contains { $0.details["reason"] == "not_owner" })
        await t.close()
    }

    @Test("X13: Bearer acts as the owner; a service acts for tenant and user; unknown users and bad credentials are refused")
    func callers() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("erik")
        let (danaKey, danaSecret) = try await t.generate("dana")
        _ = try await t.generate("erik")

        // Bearer: dana (not an admin) lists her own keys only.
        #expect(try await t.bearer(danaSecret).listKeys().keys.map(\.id) == [danaKey.id])
        // Service acting for erik sees erik's.
        #expect(try await t.as("erik").listKeys().keys.allSatisfy { $0.ownerID == "erik" })
        // The Bearer key decides the user: a different x-user-id is refused.
        var mismatched = Credential.apiKey(danaSecret).metadata
        mismatched["x-user-id"] = "erik"
        await expectRefused(.unauthenticated, rule: "X13", reason: "user_mismatch") {
            try await t.operator.call("/apikeys.v1.Keys/List", APIKeysV1.ListKeysRequest(), metadata: mismatched, as: APIKeysV1.ListKeysResponse.self)
        }

        let service = t.shared.serviceSecret
        await expectRefused(.unauthenticated, rule: "X13", reason: "unknown_user") {
            try await t.operator.acting(as: .service(service, tenant: t.id, user: "nobody")).listKeys()
        }
        await expectRefused(.unauthenticated, rule: "X13", reason: "incomplete_identity") {
            try await t.operator.acting(as: .service(service, tenant: t.id)).listKeys()
        }
        await expectRefused(.unauthenticated, rule: "X13", reason: "missing_credentials") {
            try await t.operator.acting(as: .none).listKeys()
        }
        await expectRefused(.unauthenticated, rule: "X13", reason: "unknown_credential") {
            try await t.operator.acting(as: .service("aks_not-a-credential", tenant: t.id, user: "dana")).listKeys()
        }
        // A service acting for nobody may only verify.
        await expectRefused(.permissionDenied, rule: "X13", reason: "not_a_user") {
            try await t.verifier.listKeys()
        }
        // Verify needs a service credential, not a user's key.
        await expectRefused(.permissionDenied, rule: "X8", reason: "not_service") {
            try await t.bearer(danaSecret).verify(APIKeysV1.VerifyRequest(secret: danaSecret))
        }
        await t.close()
    }

    @Test("X13: a role taken away stops working at once")
    func roleRemovalImmediate() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("boss", roles: [.tenantAdmin], licensed: true)
        let (_, secret) = try await t.generate("dana")
        _ = try await t.generate("dana")

        _ = try await t.adminClient.removeRole(APIKeysV1.RemoveRoleRequest(userID: "dana", role: .developer))
        await expectRefused(.permissionDenied, rule: "R4", reason: "not_developer") {
            try await t.as("dana").generateKey(APIKeysV1.GenerateKeyRequest(name: "next"))
        }
        _ = try await t.as("boss").getSettings()
        _ = try await t.adminClient.removeRole(APIKeysV1.RemoveRoleRequest(userID: "boss", role: .tenantAdmin))
        await expectRefused(.permissionDenied, rule: "R3", reason: "not_tenant_admin") {
            try await t.as("boss").getSettings()
        }
        // The principal reports the roles as they are now.
        #expect(try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)).principal?.roles == [])
        await t.close()
    }

    @Test("X14: removing a user revokes their keys at once with an event naming the reason")
    func removingUserRevokes() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (first, firstSecret) = try await t.generate("dana")
        let (second, _) = try await t.generate("dana")
        let (third, _) = try await t.generate("dana")
        _ = try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: third.id))
        _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: firstSecret))

        let removed = try await t.operator.removeUser(APIKeysV1.RemoveUserRequest(tenantID: t.id, userID: "dana"))
        #expect(removed.keysRevoked == 2)
        await expectRefused(.unauthenticated, rule: "R12", reason: "revoked") {
            try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: firstSecret))
        }
        await expectRefused(.unauthenticated, rule: nil, reason: nil) {
            try await t.bearer(firstSecret).listKeys()
        }
        for id in [first.id, second.id, third.id] {
            #expect(try await t.key(id).status == .revoked)
        }
        let events = try await t.events(APIKeysV1.ListEventsRequest(action: "key.revoked"))
        let byRemoval = events.filter { $0.details["reason"] == "user_removed" }
        #expect(Set(byRemoval.map(\.keyID)) == [first.id, second.id])
        #expect(byRemoval.allSatisfy { $0.details["rule"] == "X14" && $0.actor == "operator" })
        #expect(try await t.events(APIKeysV1.ListEventsRequest(action: "user.removed")).first?.details["keys_revoked"] == "2")
        // A new user with the same ID does not bring the keys back (R12).
        try await t.addUser("dana")
        await expectRefused(.unauthenticated, rule: "R12", reason: "revoked") {
            try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: firstSecret))
        }
        #expect(try await t.key(first.id).status == .revoked)
        await t.close()
    }

    @Test("X14: losing the Developer role or the license does not invalidate existing keys")
    func losingRoleKeepsKeys() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("erik")
        let (danaKey, danaSecret) = try await t.generate("dana")
        let (erikKey, erikSecret) = try await t.generate("erik")

        _ = try await t.adminClient.removeRole(APIKeysV1.RemoveRoleRequest(userID: "dana", role: .developer))
        _ = try await t.adminClient.setLicense(APIKeysV1.SetLicenseRequest(userID: "erik", licensed: false))

        #expect(try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: danaSecret)).principal?.keyID == danaKey.id)
        #expect(try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: erikSecret)).principal?.keyID == erikKey.id)
        #expect(try await t.key(danaKey.id).status == .active)
        #expect(try await t.key(erikKey.id).status == .active)
        // Their keys still act for them (Bearer), but new generations are refused.
        #expect(try await t.bearer(erikSecret).listKeys().keys.map(\.id) == [erikKey.id])
        await expectRefused(.permissionDenied, rule: "R4", reason: "not_developer") { try await t.generate("dana") }
        await expectRefused(.permissionDenied, rule: "R17", reason: "no_license") { try await t.generate("erik") }
        await t.close()
    }

    @Test("X17: a leaked key cannot mint keys or raise limits; every event says how its actor came in (issue 9, finding 5)")
    func keyCannotMint() async throws {
        let t = try await RuleTenant.make(adminIsDeveloper: true)
        try await t.addUser("dana")
        let (danaKey, danaSecret) = try await t.generate("dana")
        let (adminKey, adminSecret) = try await t.generate(t.admin)

        await expectRefused(.permissionDenied, rule: "X17", reason: "api_key_not_allowed") {
            try await t.bearer(danaSecret).generateKey(APIKeysV1.GenerateKeyRequest(name: "minted"))
        }
        await expectRefused(.permissionDenied, rule: "X17", reason: "api_key_not_allowed") {
            try await t.bearer(adminSecret).generateKey(APIKeysV1.GenerateKeyRequest(name: "minted"))
        }
        await expectRefused(.permissionDenied, rule: "X17", reason: "api_key_not_allowed") {
            try await t.bearer(adminSecret).updateSettings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 1000))
        }
        await expectRefused(.permissionDenied, rule: "X17", reason: "api_key_not_allowed") {
            try await t.bearer(adminSecret).assignRole(APIKeysV1.AssignRoleRequest(userID: "dana", role: .tenantAdmin))
        }
        await expectRefused(.permissionDenied, rule: "X17", reason: "api_key_not_allowed") {
            try await t.bearer(adminSecret).setLicense(APIKeysV1.SetLicenseRequest(userID: "dana", licensed: false))
        }
        // Reading and revoking what the owner may still work by key.
        _ = try await t.bearer(adminSecret).getSettings()
        _ = try await t.bearer(adminSecret).listEvents(APIKeysV1.ListEventsRequest(pageSize: 1))
        _ = try await t.bearer(danaSecret).revokeKey(APIKeysV1.RevokeKeyRequest(keyID: danaKey.id, reason: "leaked"))

        // Nothing was minted: dana and the admin still have exactly their one key each.
        #expect(try await t.allKeys().map(\.id).sorted() == [danaKey.id, adminKey.id].sorted())
        let events = try await t.events()
        #expect(events.allSatisfy { $0.details["via"] != nil }, "every event names how its actor came in")
        #expect(events.with(action: "key.generated").allSatisfy { $0.details["via"] == "service:console" && $0.details["via_credential"]?.hasPrefix("svc_") == true })
        #expect(events.with(action: "key.revoked", key: danaKey.id).first?.details["via"] == "key:\(danaKey.id)")
        let denied = events.with(action: "permission.denied")
        #expect(!denied.isEmpty && denied.allSatisfy { $0.details["rule"] == "X17" && $0.details["via"]?.hasPrefix("key:") == true })
        await t.close()
    }
}
