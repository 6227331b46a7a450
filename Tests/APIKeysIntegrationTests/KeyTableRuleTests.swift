import APIKeysClient
import APIKeysWire
import Foundation
import Testing

/// The key table and generation policy: R6–R8, R15, R16, R18, X2, X3, X11, X12.
@Suite("Rules: key table")
struct KeyTableRuleTests {
    @Test("R6: the list shows name, ID, owner, updated, created, expiry and status")
    func columns() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let before = nowMs()
        let (generated, _) = try await t.generate("dana", name: "billing export", expiry: .expiresInSeconds(3600))
        let after = nowMs()
        let listed = try #require(try await t.adminClient.listKeys().keys.first)
        #expect(listed == generated)
        #expect(listed.name == "billing export")
        #expect(listed.id.hasPrefix("key_") && listed.id.count == 24)
        #expect(listed.ownerID == "dana")
        #expect(listed.tenantID == t.id)
        #expect((before...after).contains(listed.createdAtMs))
        #expect(listed.updatedAtMs == listed.createdAtMs)
        #expect(listed.expiresAtMs == listed.createdAtMs + 3_600_000)
        #expect(listed.status == .active)
        #expect(listed.revokedAtMs == 0)

        // Each column sorts.
        _ = try await t.generate("dana", name: "another", expiry: .expiresInSeconds(7200))
        for field in APIKeysV1.KeySortField.allCases {
            let ascending = try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(sortBy: field)).keys.map(\.id)
            let descending = try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(sortBy: field, descending: true)).keys.map(\.id)
            #expect(ascending.count == 2 && Set(ascending) == Set(descending), "sort by \(field)")
        }
        let byName = try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(sortBy: .name)).keys.map(\.name)
        #expect(byName == ["another", "billing export"])
        let byExpiryDesc = try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(sortBy: .expires, descending: true)).keys.map(\.name)
        #expect(byExpiryDesc == ["another", "billing export"])
        await t.close()
    }

    @Test("R7: search matches part of a name, the exact ID, or the owner, case-insensitively")
    func search() async throws {
        let t = try await RuleTenant.make()
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 10))
        try await t.addUser("Dana.Scully")
        try await t.addUser("erik")
        let (pipeline, _) = try await t.generate("Dana.Scully", name: "CI Pipeline")
        let (deploy, _) = try await t.generate("erik", name: "deploy bot")
        let (other, _) = try await t.generate("erik", name: "metrics")

        func search(_ text: String) async throws -> Set<String> {
            Set(try await t.allKeys(APIKeysV1.ListKeysRequest(search: text)).map(\.id))
        }
        #expect(try await search("pipe") == [pipeline.id])
        #expect(try await search("PIPELINE") == [pipeline.id])
        #expect(try await search("oy b") == [deploy.id])
        #expect(try await search(other.id) == [other.id])
        #expect(try await search(other.id.uppercased()) == [other.id])
        #expect(try await search("scully") == [pipeline.id])
        #expect(try await search("ERIK") == [deploy.id, other.id])
        #expect(try await search("no such thing").isEmpty)
        // A developer's search stays within their own keys.
        #expect(Set(try await t.as("erik").listKeys(APIKeysV1.ListKeysRequest(search: "metr")).keys.map(\.id)) == [other.id])
        #expect(try await search("  pipe  ") == [pipeline.id], "the search text is trimmed")

        // LIKE wildcards and non-ASCII case match literally.
        let (percent, _) = try await t.generate("erik", name: "50% off")
        let (underscore, _) = try await t.generate("erik", name: "data_export")
        _ = try await t.generate("erik", name: "grape juice")  // "a_e" as a LIKE pattern would match "ape"
        let (backslash, _) = try await t.generate("Dana.Scully", name: #"C:\keys"#)
        let (accented, _) = try await t.generate("Dana.Scully", name: "ÉCOLE Über")
        #expect(try await search("%") == [percent.id])
        #expect(try await search("a_e") == [underscore.id])
        #expect(try await search(#"\"#) == [backslash.id])
        #expect(try await search("école über") == [accented.id])
        await expectRefused(.invalidArgument, rule: "R7", reason: "search_too_long") {
            try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(search: String(repeating: "a", count: 257)))
        }
        await t.close()
    }

    @Test("R8: statuses are Active, Expired and Revoked, and filter the list")
    func statuses() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (active, _) = try await t.generate("dana", name: "active")
        let (expiring, expiringSecret) = try await t.generate("dana", name: "expiring", expiry: .expiresInSeconds(1))
        let (revoked, _) = try await t.generate("dana", name: "revoked")
        _ = try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: revoked.id))
        #expect(expiring.status == .active)
        try await Task.sleep(until: .now + .milliseconds(Int(max(0, expiring.expiresAtMs - nowMs())) + 50))

        #expect(try await t.key(active.id).status == .active)
        #expect(try await t.key(expiring.id).status == .expired)
        let revokedNow = try await t.key(revoked.id)
        #expect(revokedNow.status == .revoked && revokedNow.revokedAtMs > 0)
        for (status, id) in [(APIKeysV1.KeyStatus.active, active.id), (.expired, expiring.id), (.revoked, revoked.id)] {
            #expect(try await t.allKeys(APIKeysV1.ListKeysRequest(status: status)).map(\.id) == [id], "filter \(status)")
        }
        await expectRefused(.unauthenticated, rule: "R8", reason: "expired") {
            try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: expiringSecret))
        }
        await t.close()
    }

    @Test("R15: changing the maximum expiry applies to new keys only")
    func maxExpiryNewKeysOnly() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxExpirySeconds: 30 * 86_400))
        let (long, _) = try await t.generate("dana", name: "long")
        #expect(long.expiresAtMs == long.createdAtMs + 30 * 86_400_000)

        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxExpirySeconds: 3600))
        #expect(try await t.key(long.id).expiresAtMs == long.expiresAtMs)
        #expect(try await t.key(long.id).status == .active)
        let (short, _) = try await t.generate("dana", name: "short")
        #expect(short.expiresAtMs == short.createdAtMs + 3_600_000)
        await expectRefused(.invalidArgument, rule: "X2", reason: "expiry_beyond_maximum") {
            try await t.generate("dana", expiry: .expiresInSeconds(7200))
        }
        await t.close()
    }

    @Test("R16: the maximum keys per user applies to new keys only; existing keys stay")
    func maxKeysNewKeysOnly() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 3))
        var secrets: [String] = []
        for i in 0..<3 { secrets.append(try await t.generate("dana", name: "k\(i)").secret) }
        await expectRefused(.resourceExhausted, rule: "R16", reason: "key_limit") { try await t.generate("dana") }

        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 1))
        #expect(try await t.allKeys(APIKeysV1.ListKeysRequest(status: .active)).count == 3)
        for secret in secrets { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)) }
        await expectRefused(.resourceExhausted, rule: "R16", reason: "key_limit") { try await t.generate("dana") }

        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 4))
        _ = try await t.generate("dana")
        await expectRefused(.resourceExhausted, rule: "R16", reason: "key_limit") { try await t.generate("dana") }

        // The limit holds under concurrent generates, on several connections.
        try await t.addUser("erik")
        var connections: [RuleTenant] = []
        for _ in 0..<3 { connections.append(try await RuleTenant.attach(to: t)) }
        let clients = connections
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<24 {
                group.addTask { (try? await clients[i % clients.count].generate("erik")) != nil }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 4)
        #expect(try await t.allKeys(APIKeysV1.ListKeysRequest(search: "erik", status: .active)).count == 4)
        for connection in clients { await connection.close() }
        await t.close()
    }

    @Test("R18: the owner chooses name and expiry; the secret is returned once and by no other call")
    func secretOnce() async throws {
        let t = try await RuleTenant.make(adminIsDeveloper: true)
        try await t.addUser("dana")
        let expiresAt = nowMs() + 2 * 3_600_000 + 123
        let response = try await t.as("dana").generateKey(APIKeysV1.GenerateKeyRequest(name: "  nightly backup  ", expiry: .expiresAtMs(expiresAt)))
        let key = try #require(response.key)
        let secret = response.secret
        #expect(key.name == "nightly backup")
        #expect(key.expiresAtMs == expiresAt)
        #expect(secret.hasPrefix("apk_"))

        let dana = t.as("dana")
        let admin = t.adminClient
        _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret))
        var responses: [[UInt8]] = []
        responses.append(try await dana.getKey(APIKeysV1.GetKeyRequest(keyID: key.id)).serializedBytes())
        responses.append(try await admin.getKey(APIKeysV1.GetKeyRequest(keyID: key.id)).serializedBytes())
        responses.append(try await dana.listKeys().serializedBytes())
        responses.append(try await admin.listKeys(APIKeysV1.ListKeysRequest(search: key.id)).serializedBytes())
        responses.append(try await t.bearer(secret).listKeys().serializedBytes())
        responses.append(try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)).serializedBytes())
        responses.append(try await dana.renameKey(APIKeysV1.RenameKeyRequest(keyID: key.id, name: "renamed")).serializedBytes())
        responses.append(try await admin.getSettings().serializedBytes())
        responses.append(try await admin.listUsers().serializedBytes())
        responses.append(try await admin.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id, reason: "rotate")).serializedBytes())
        responses.append(try await admin.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: [key.id])).serializedBytes())
        // Refusals carry no secret either.
        do { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)) } catch let error as RPCError {
            responses.append(Array(error.message.utf8) + error.details)
        }
        do { _ = try await t.bearer(secret).listKeys() } catch let error as RPCError {
            responses.append(Array(error.message.utf8) + error.details)
        }
        try await Task.sleep(for: .milliseconds(250))  // verify-side events flushed
        responses.append(contentsOf: try await t.events().map { $0.serializedBytes() })

        #expect(leaks(secret, in: response.serializedBytes()), "the check finds the secret where it is")
        #expect(responses.count > 12)
        for (i, bytes) in responses.enumerated() {
            #expect(!leaks(secret, in: bytes), "response \(i) holds the secret")
        }
        await t.close()
    }

    @Test("X2: expiry defaults to the tenant maximum, must be in the future and not beyond it; settings bounds")
    func defaultsAndBounds() async throws {
        let t = try await RuleTenant.make(enabled: false)
        let defaults = try #require(try await t.adminClient.getSettings().settings)
        #expect(defaults.apiKeysEnabled == false)
        #expect(defaults.maxExpirySeconds == 86_400)
        #expect(defaults.maxKeysPerUser == 5)
        #expect(defaults.excessiveUsePerMinute == 600)

        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: true))
        try await t.addUser("dana")
        let (key, _) = try await t.generate("dana")
        #expect(key.expiresAtMs == key.createdAtMs + 86_400_000)
        let (exact, _) = try await t.generate("dana", expiry: .expiresInSeconds(86_400))
        #expect(exact.expiresAtMs == exact.createdAtMs + 86_400_000)
        await expectRefused(.invalidArgument, rule: "X2", reason: "expiry_beyond_maximum") {
            try await t.generate("dana", expiry: .expiresInSeconds(86_401))
        }
        await expectRefused(.invalidArgument, rule: "X2", reason: "expiry_beyond_maximum") {
            try await t.generate("dana", expiry: .expiresAtMs(nowMs() + 86_400_000 + 60_000))
        }
        await expectRefused(.invalidArgument, rule: "X2", reason: "expiry_in_past") {
            try await t.generate("dana", expiry: .expiresAtMs(nowMs() - 1000))
        }
        await expectRefused(.invalidArgument, rule: "X2", reason: "expiry_in_past") {
            try await t.generate("dana", expiry: .expiresInSeconds(0))
        }
        await expectRefused(.invalidArgument, rule: "X2", reason: "expiry_beyond_maximum") {
            try await t.generate("dana", expiry: .expiresInSeconds(UInt64.max))
        }

        let admin = t.adminClient
        for bad in [UInt64(0), 3599, 31_536_001, UInt64.max] {
            await expectRefused(.invalidArgument, rule: "X2", reason: "max_expiry_out_of_range", "max expiry \(bad)") {
                try await admin.updateSettings(APIKeysV1.UpdateSettingsRequest(maxExpirySeconds: bad))
            }
        }
        await expectRefused(.invalidArgument, rule: "X2", reason: "max_keys_out_of_range") {
            try await admin.updateSettings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 1001))
        }
        // A refused update changes nothing, not even its valid fields.
        await expectRefused(.invalidArgument, rule: "X2", reason: "max_keys_out_of_range") {
            try await admin.updateSettings(APIKeysV1.UpdateSettingsRequest(maxExpirySeconds: 7200, maxKeysPerUser: 5000))
        }
        #expect(try await admin.getSettings().settings?.maxExpirySeconds == 86_400)
        await expectRefused(.invalidArgument, rule: "X9", reason: "excessive_use_out_of_range") {
            try await admin.updateSettings(APIKeysV1.UpdateSettingsRequest(excessiveUsePerMinute: 0))
        }
        #expect(try await t.settings(APIKeysV1.UpdateSettingsRequest(maxExpirySeconds: 3600)).maxExpirySeconds == 3600)
        #expect(try await t.settings(APIKeysV1.UpdateSettingsRequest(maxExpirySeconds: 31_536_000)).maxExpirySeconds == 31_536_000)
        #expect(try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 1000)).maxKeysPerUser == 1000)
        #expect(try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 0)).maxKeysPerUser == 0)
        await expectRefused(.resourceExhausted, rule: "R16", reason: "key_limit") { try await t.generate("dana") }
        await t.close()
    }

    @Test("X3: only Active keys count toward the maximum: revoked, expired and deleted keys free a slot")
    func onlyActiveCount() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 2))
        let (first, _) = try await t.generate("dana")
        let (second, _) = try await t.generate("dana")
        await expectRefused(.resourceExhausted, rule: "R16", reason: "key_limit") { try await t.generate("dana") }

        // A revoked key frees its slot.
        _ = try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: first.id))
        let (third, _) = try await t.generate("dana")
        await expectRefused(.resourceExhausted, rule: "R16", reason: "key_limit") { try await t.generate("dana") }

        // A deleted key frees its slot.
        _ = try await t.as("dana").deleteKey(APIKeysV1.DeleteKeyRequest(keyID: third.id))
        let (fourth, _) = try await t.generate("dana")
        await expectRefused(.resourceExhausted, rule: "R16", reason: "key_limit") { try await t.generate("dana") }

        // An expired key frees its slot.
        _ = try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: fourth.id))
        let (expiring, _) = try await t.generate("dana", expiry: .expiresInSeconds(2))
        await expectRefused(.resourceExhausted, rule: "R16", reason: "key_limit") { try await t.generate("dana") }
        try await Task.sleep(until: .now + .milliseconds(Int(max(0, expiring.expiresAtMs - nowMs())) + 50))
        #expect(try await t.key(expiring.id).status == .expired)
        _ = try await t.generate("dana")
        await expectRefused(.resourceExhausted, rule: "R16", reason: "key_limit") { try await t.generate("dana") }
        #expect(try await t.key(second.id).status == .active)
        await t.close()
    }

    @Test("X11: an admin lists every key, a developer only their own; page size 1 to 100, 0 means 20")
    func listingScopeAndPageSize() async throws {
        let t = try await RuleTenant.make(adminIsDeveloper: true)
        try await t.addUser("dana")
        try await t.addUser("erik")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 30))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<25 { group.addTask { _ = try await t.generate("dana", name: "d\(i)") } }
            for i in 0..<3 { group.addTask { _ = try await t.generate("erik", name: "e\(i)") } }
            group.addTask { _ = try await t.generate(t.admin, name: "a") }
            try await group.waitForAll()
        }
        #expect(try await t.allKeys().count == 29)
        #expect(Set(try await t.allKeys(as: "erik").map(\.ownerID)) == ["erik"])
        #expect(try await t.allKeys(as: "erik").count == 3)
        #expect(try await t.allKeys(as: "dana").count == 25)

        let first = try await t.adminClient.listKeys()
        #expect(first.keys.count == 20 && !first.nextPageToken.isEmpty)
        #expect(try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(pageSize: 1)).keys.count == 1)
        #expect(try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(pageSize: 100)).keys.count == 29)
        await expectRefused(.invalidArgument, rule: "X11", reason: "invalid_page_size") {
            try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(pageSize: 101))
        }
        // A token is bound to its listing's filters, and must be one the server issued.
        await expectRefused(.invalidArgument, rule: "X11", reason: "page_token_mismatch") {
            try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(search: "d", pageToken: first.nextPageToken))
        }
        await expectRefused(.invalidArgument, rule: "X11", reason: "invalid_page_token") {
            try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(pageToken: "garbage!"))
        }
        await t.close()
    }

    @Test("X11: paging through 1,000 keys with inserts in between loses and repeats nothing")
    func pagingStableUnderInserts() async throws {
        let t = try await RuleTenant.make()
        let users = (0..<5).map { "dev\($0)" }
        for user in users { try await t.addUser(user) }
        try await t.addUser("late")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 1000))
        // Several connections, generating concurrently.
        var clients: [RuleTenant] = []
        for _ in 0..<4 { clients.append(try await RuleTenant.attach(to: t)) }
        let original: Set<String> = try await withThrowingTaskGroup(of: [String].self) { group in
            for (i, user) in users.enumerated() {
                let client = clients[i % clients.count]
                group.addTask {
                    var ids: [String] = []
                    for n in 0..<200 {
                        ids.append(try await client.generate(user, name: "Key \(String(format: "%04d", n)) of \(user)").key.id)
                    }
                    return ids
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.formUnion($1) }
        }
        #expect(original.count == 1000)

        for (sort, descending) in [(APIKeysV1.KeySortField.created, false), (.name, true), (.id, false), (.owner, true), (.status, false)] {
            var seen: [String] = []
            var request = APIKeysV1.ListKeysRequest(sortBy: sort, descending: descending, pageSize: 97)
            var pages = 0
            while true {
                let page = try await t.adminClient.listKeys(request)
                seen += page.keys.map(\.id)
                pages += 1
                // Inserts between pages: some sort before the cursor, some after it.
                _ = try await t.generate("late", name: "Key 0000 of a late one \(pages)")
                _ = try await t.generate("late", name: "zzz late \(pages)")
                if page.nextPageToken.isEmpty { break }
                request.pageToken = page.nextPageToken
            }
            #expect(seen.count == Set(seen).count, "sort \(sort): no key repeated")
            #expect(original.isSubset(of: Set(seen)), "sort \(sort): no key lost (\(original.subtracting(seen).count) missing)")
            #expect(pages >= 11)
        }
        for client in clients { await client.close() }
        await t.close()
    }

    @Test("X12: names are trimmed, 1 to 256 printable characters, duplicates allowed; a 1 MiB name is refused cleanly")
    func names() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 20))
        #expect(try await t.generate("dana", name: " \t spaced out \n").key.name == "spaced out")
        let max = String(repeating: "é", count: 256)
        #expect(try await t.generate("dana", name: max).key.name == max)
        #expect(try await t.generate("dana", name: "🔑 ключ 鍵").key.name == "🔑 ключ 鍵")
        let (a, _) = try await t.generate("dana", name: "same")
        let (b, _) = try await t.generate("dana", name: "same")
        #expect(a.id != b.id)

        for (name, reason) in [("", "name_empty"), ("   \n", "name_empty"), (String(repeating: "x", count: 257), "name_too_long"),
                               ("bell\u{7}", "name_not_printable"), ("tab\tinside", "name_not_printable"),
                               ("zero\u{200B}width", "name_not_printable")] {
            await expectRefused(.invalidArgument, rule: "X12", reason: reason, "name \(name.debugDescription)") {
                try await t.generate("dana", name: name)
            }
        }
        await expectRefused(.invalidArgument, rule: "X12", reason: "name_empty") {
            try await t.as("dana").renameKey(APIKeysV1.RenameKeyRequest(keyID: a.id, name: " "))
        }
        let huge = String(repeating: "n", count: 1 << 20)
        let error = await expectRefused(.invalidArgument, rule: "X12", reason: "name_too_long") {
            try await t.generate("dana", name: huge)
        }
        #expect((error?.message.utf8.count ?? 0) < 1000, "the refusal does not echo the name")
        await expectRefused(.invalidArgument, rule: "X12", reason: "name_too_long") {
            try await t.as("dana").renameKey(APIKeysV1.RenameKeyRequest(keyID: a.id, name: huge))
        }
        // The connection is still fine, and nothing was stored.
        #expect(try await t.allKeys().count == 5)
        #expect(try await t.key(a.id).name == "same")
        await t.close()
    }
}
