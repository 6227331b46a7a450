import APIKeysClient
import APIKeysWire
import Foundation
import Testing

/// Events: X10 (and R9's review by the admin).
@Suite("Rules: events")
struct EventRuleTests {
    @Test("X10: every change and every refusal is an event with actor, action, key and outcome")
    func everyChangeAndRefusal() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("lars", roles: [], licensed: false)
        let dana = t.as("dana")
        let (key, secret) = try await t.generate("dana", name: "first")
        _ = try await dana.renameKey(APIKeysV1.RenameKeyRequest(keyID: key.id, name: "second"))
        _ = try await dana.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id, reason: "rotated"))
        let (gone, _) = try await t.generate("dana")
        _ = try await dana.deleteKey(APIKeysV1.DeleteKeyRequest(keyID: gone.id))
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 1))
        _ = try await t.adminClient.assignRole(APIKeysV1.AssignRoleRequest(userID: "lars", role: .developer))
        _ = try await t.adminClient.setLicense(APIKeysV1.SetLicenseRequest(userID: "lars", licensed: true))
        _ = try await t.adminClient.removeRole(APIKeysV1.RemoveRoleRequest(userID: "lars", role: .developer))
        // Refusals.
        _ = try? await t.as("lars").updateSettings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false))
        _ = try await t.generate("dana")
        _ = try? await t.generate("dana")  // over the limit of 1
        _ = try? await dana.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id))  // not active
        _ = try? await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret))  // revoked

        let events = try await t.eventually { $0.contains { $0.action == "key.verify_failed" } }
        func one(_ action: String, outcome: String = "success", key: String? = nil, actor: String? = nil,
                 sourceLocation: SourceLocation = #_sourceLocation) -> APIKeysV1.Event? {
            let found = events.first { $0.action == action && $0.outcome == outcome && (key == nil || $0.keyID == key) && (actor == nil || $0.actor == actor) }
            #expect(found != nil, "no \(action) \(outcome) event", sourceLocation: sourceLocation)
            if let found {
                #expect(found.id > 0 && found.timeMs > 0 && found.tenantID == t.id, sourceLocation: sourceLocation)
            }
            return found
        }
        #expect(one("key.generated", key: key.id, actor: "user:dana")?.details["name"] == "first")
        #expect(one("key.generated", key: key.id)?.details["via"] == "service:console")
        #expect(one("key.renamed", key: key.id, actor: "user:dana")?.details["name"] == "second")
        #expect(one("key.revoked", key: key.id, actor: "user:dana")?.details["reason"] == "rotated")
        _ = one("key.deleted", key: gone.id, actor: "user:dana")
        #expect(one("settings.changed", actor: "user:admin")?.details["max_keys_per_user"] == "5 -> 1")
        #expect(one("user.role_assigned", actor: "user:admin")?.details["user"] == "lars")
        #expect(one("user.role_removed", actor: "user:admin")?.details["user"] == "lars")
        #expect(one("user.license_changed", actor: "user:admin")?.details["licensed"] == "true")
        #expect(one("user.created", actor: "operator") != nil)
        let denied = one("permission.denied", outcome: "denied", actor: "user:lars")
        #expect(denied?.details["reason"] == "not_tenant_admin")
        #expect(denied?.details["rule"] == "R3")
        #expect(one("key.generated", outcome: "denied", actor: "user:dana")?.details["reason"] == "key_limit")
        #expect(one("key.revoked", outcome: "denied", key: key.id)?.details["reason"] == "not_active")
        let failed = one("key.verify_failed", outcome: "denied", key: key.id, actor: "service:console")
        #expect(failed?.details["reason"] == "revoked")
        await t.close()
    }

    @Test("X10: events filter by key ID, action, actor and time range; newest first; paging")
    func filtersAndPaging() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("erik")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 20))
        let (danaKey, _) = try await t.generate("dana")
        try await Task.sleep(for: .milliseconds(20))
        let middle = nowMs()
        try await Task.sleep(for: .milliseconds(20))
        var erikKeys: [String] = []
        for i in 0..<7 {
            erikKeys.append(try await t.generate("erik", name: "e\(i)").key.id)
        }
        for id in erikKeys.prefix(3) { _ = try await t.as("erik").renameKey(APIKeysV1.RenameKeyRequest(keyID: id, name: "renamed")) }
        try await Task.sleep(for: .milliseconds(20))
        let end = nowMs()
        try await Task.sleep(for: .milliseconds(20))
        _ = try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: danaKey.id))

        let all = try await t.events()
        // Newest first: by time then ID, strictly.
        for (newer, older) in zip(all, all.dropFirst()) {
            #expect(newer.timeMs > older.timeMs || (newer.timeMs == older.timeMs && newer.id > older.id))
        }
        #expect(all.first?.action == "key.revoked")
        #expect(all.last?.action == "tenant.created")

        let byKey = try await t.events(APIKeysV1.ListEventsRequest(keyID: danaKey.id))
        #expect(byKey.map(\.action) == ["key.revoked", "key.generated"])
        let byAction = try await t.events(APIKeysV1.ListEventsRequest(action: "key.renamed"))
        #expect(Set(byAction.map(\.keyID)) == Set(erikKeys.prefix(3)))
        let byActor = try await t.events(APIKeysV1.ListEventsRequest(actor: "user:erik"))
        #expect(byActor.count == 10 && byActor.allSatisfy { $0.actor == "user:erik" })
        let combined = try await t.events(APIKeysV1.ListEventsRequest(action: "key.generated", actor: "user:erik"))
        #expect(Set(combined.map(\.keyID)) == Set(erikKeys))
        let inRange = try await t.events(APIKeysV1.ListEventsRequest(sinceMs: middle, untilMs: end))
        #expect(inRange == all.filter { (middle...end).contains($0.timeMs) })
        #expect(inRange.count == 10)
        #expect(try await t.events(APIKeysV1.ListEventsRequest(sinceMs: end)).count == all.filter { $0.timeMs >= end }.count)
        #expect(try await t.events(APIKeysV1.ListEventsRequest(untilMs: middle)).allSatisfy { $0.timeMs <= middle })
        #expect(try await t.events(APIKeysV1.ListEventsRequest(keyID: "key_aaaaaaaaaaaaaaaaaaaa")).isEmpty)

        // Paging by 3 gives the same events, none twice, while new events arrive.
        var paged: [APIKeysV1.Event] = []
        var request = APIKeysV1.ListEventsRequest(pageSize: 3)
        while true {
            let page = try await t.adminClient.listEvents(request)
            #expect(page.events.count <= 3)
            paged += page.events
            _ = try await t.as("erik").renameKey(APIKeysV1.RenameKeyRequest(keyID: erikKeys[6], name: "again \(paged.count)"))
            if page.nextPageToken.isEmpty { break }
            request.pageToken = page.nextPageToken
        }
        #expect(paged.map(\.id) == all.map(\.id))
        #expect(try await t.adminClient.listEvents().events.count == 20)
        await expectRefused(.invalidArgument, rule: "X11", reason: "invalid_page_size") {
            try await t.adminClient.listEvents(APIKeysV1.ListEventsRequest(pageSize: 101))
        }
        await expectRefused(.invalidArgument, rule: "X11", reason: "page_token_mismatch") {
            try await t.adminClient.listEvents(APIKeysV1.ListEventsRequest(action: "key.renamed", pageSize: 3, pageToken: (try await t.adminClient.listEvents(APIKeysV1.ListEventsRequest(pageSize: 3))).nextPageToken))
        }
        // R9: only a tenant admin reviews events.
        await expectRefused(.permissionDenied, rule: "R3", reason: "not_tenant_admin") {
            try await t.as("erik").listEvents()
        }
        await t.close()
    }
}
