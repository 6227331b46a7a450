import APIKeysClient
import APIKeysWire
import Foundation
import Testing

/// Secrets, verification and usage: X7, X8, X9.
@Suite("Rules: verification")
struct VerificationRuleTests {
    @Test("X7: the secret has a prefix and a checksum; a typo is rejected; the secret is in no event")
    func secretFormat() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (key, secret) = try await t.generate("dana")
        let (_, otherSecret) = try await t.generate("dana")

        #expect(secret.hasPrefix("apk_"))
        #expect(secret.count == 73)  // apk_ + 20 ID + 43 random (256 bits) + 6 checksum
        #expect(secret.dropFirst(4).prefix(20) == key.id.dropFirst(4), "the secret embeds the key ID")
        #expect(secret.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        #expect(secret.dropFirst(24) != otherSecret.dropFirst(24))
        _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret))

        var typos: [String] = []
        let chars = Array(secret)
        for index in [5, 30, 50, 68, 72] {  // in the ID, the random part, the checksum
            var typo = chars
            typo[index] = typo[index] == "a" ? "b" : "a"
            typos.append(String(typo))
        }
        var swapped = chars
        swapped.swapAt(40, 41)
        if swapped != chars { typos.append(String(swapped)) }
        typos += [String(secret.dropLast()), secret + "x", "APK_" + secret.dropFirst(4), " " + secret, "", "apk_", "aks_" + secret.dropFirst(4)]
        for typo in typos {
            await expectRefused(.unauthenticated, rule: "X8", reason: "unknown", "typo \(typo)") {
                try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: typo))
            }
        }
        // Only the real secret opens the key.
        #expect(try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)).principal?.keyID == key.id)

        // Verify-side events are stored by the flush; none holds a secret. (A typo fails the
        // checksum before any lookup, so it is no key's event; a revoked key's failure is.)
        _ = try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id))
        _ = try? await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret))
        _ = try? await t.bearer(secret).listKeys()
        let events = try await t.eventually { $0.contains { $0.action == "key.verify_failed" } }
        #expect(events.contains { $0.action == "key.verify_failed" && $0.keyID == key.id })
        for event in events {
            #expect(!leaks(secret, in: event.serializedBytes()), "event \(event.action)")
            #expect(!leaks(otherSecret, in: event.serializedBytes()), "event \(event.action)")
            for value in event.details.values { #expect(!value.contains("apk_")) }
        }
        // Only a hash is stored: the SQLite files (database, WAL) never hold the secret.
        // (On PostgreSQL, APIKeysPostgresTests checks the stored columns instead.)
        if TestStore.isSQLite {
        try await Task.sleep(for: .milliseconds(200))
        let directory = try #require(t.shared.dataDirectory)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(files.contains("apikeys.sqlite"))
        var all: [UInt8] = []
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(file)))
            #expect(!leaks(secret, in: bytes), "\(file) holds the secret")
            #expect(!leaks(otherSecret, in: bytes), "\(file) holds the secret")
            all += bytes
        }
        #expect(contains(Array(key.id.utf8), in: all), "the files read are the ones holding the key")
        }
        await t.close()
    }

    @Test("X8: verify reasons unknown, expired, revoked, disabled; revoke, delete and disable hold for the very next verify")
    func verifyReasons() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        try await t.addUser("erik")
        let (revokeMe, revokeSecret) = try await t.generate("dana")
        let (deleteMe, deleteSecret) = try await t.generate("dana")
        let (_, expireSecret) = try await t.generate("dana", expiry: .expiresInSeconds(1))
        let (erikKey, erikSecret) = try await t.generate("erik")
        let v = t.verifier

        let principal = try #require(try await v.verify(APIKeysV1.VerifyRequest(secret: revokeSecret)).principal)
        #expect(principal.keyID == revokeMe.id && principal.userID == "dana" && principal.tenantID == t.id)
        _ = try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: revokeMe.id))
        await expectRefused(.unauthenticated, rule: "R12", reason: "revoked") { try await v.verify(APIKeysV1.VerifyRequest(secret: revokeSecret)) }

        _ = try await v.verify(APIKeysV1.VerifyRequest(secret: deleteSecret))
        _ = try await t.as("dana").deleteKey(APIKeysV1.DeleteKeyRequest(keyID: deleteMe.id))
        await expectRefused(.unauthenticated, rule: "X8", reason: "unknown") { try await v.verify(APIKeysV1.VerifyRequest(secret: deleteSecret)) }

        _ = try await v.verify(APIKeysV1.VerifyRequest(secret: erikSecret))
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false))
        await expectRefused(.unauthenticated, rule: "X4", reason: "disabled") { try await v.verify(APIKeysV1.VerifyRequest(secret: erikSecret)) }
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: true))
        #expect(try await v.verify(APIKeysV1.VerifyRequest(secret: erikSecret)).principal?.keyID == erikKey.id)

        // Never generated: well-formed shape, wrong checksum; and garbage.
        await expectRefused(.unauthenticated, rule: "X8", reason: "unknown") {
            try await v.verify(APIKeysV1.VerifyRequest(secret: "apk_" + String(repeating: "a", count: 69)))
        }
        await expectRefused(.unauthenticated, rule: "X8", reason: "unknown") { try await v.verify(APIKeysV1.VerifyRequest(secret: "hello")) }

        try await Task.sleep(for: .milliseconds(1100))
        await expectRefused(.unauthenticated, rule: "R8", reason: "expired") { try await v.verify(APIKeysV1.VerifyRequest(secret: expireSecret)) }

        // The very next call with a service acting for a user is refused as well: the secret is no credential.
        await expectRefused(.unauthenticated, rule: "R12", reason: "revoked") { try await t.bearer(revokeSecret).listKeys() }
        let failures = try await t.eventually { Set($0.with(action: "key.verify_failed").compactMap { $0.details["reason"] }).count >= 3 }
        #expect(Set(failures.with(action: "key.verify_failed").compactMap { $0.details["reason"] }).isSuperset(of: ["revoked", "disabled", "expired"]))
        #expect(failures.contains { $0.action == "key.expired" })
        await t.close()
    }

    @Test("X9: last used and use count show on the key after verifications and Bearer calls")
    func usageCounted() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let (key, secret) = try await t.generate("dana")
        #expect(key.useCount == 0 && key.lastUsedAtMs == 0)

        let before = nowMs()
        for _ in 0..<5 { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)) }
        _ = try await t.bearer(secret).listKeys()
        let after = nowMs()
        // Visible at once (pending usage), and still after the flush stored it.
        var seen = try await t.key(key.id)
        #expect(seen.useCount == 6)
        #expect((before...after).contains(seen.lastUsedAtMs))
        try await Task.sleep(for: .milliseconds(300))
        seen = try await t.key(key.id)
        #expect(seen.useCount == 6)
        #expect((before...after).contains(seen.lastUsedAtMs))
        #expect(seen.updatedAtMs == key.updatedAtMs, "usage is not an update")
        #expect(try await t.as("dana").listKeys().keys.first?.useCount == 6)
        // Failed verifications are not uses.
        _ = try await t.as("dana").revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id))
        _ = try? await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret))
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await t.key(key.id).useCount == 6)
        await t.close()
    }

    @Test("X9: excessive use raises exactly one event per key per window")
    func excessiveUseOncePerWindow() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(excessiveUsePerMinute: 10))
        let (hot, hotSecret) = try await t.generate("dana", name: "hot")
        let (warm, warmSecret) = try await t.generate("dana", name: "warm")
        let (calm, calmSecret) = try await t.generate("dana", name: "calm")

        let start = nowMs()
        for _ in 0..<60 { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: hotSecret)) }
        for _ in 0..<11 { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: warmSecret)) }
        for _ in 0..<10 { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: calmSecret)) }
        let end = nowMs()
        // A minute boundary crossed during the loop legitimately opens a second window.
        let windows = Int(end / 60_000 - start / 60_000) + 1

        let events = try await t.eventually {
            Set($0.with(action: "key.excessive_use").map(\.keyID)) == [hot.id, warm.id]
        }
        try await Task.sleep(for: .milliseconds(300))  // nothing more arrives
        let alerts = try await t.events(APIKeysV1.ListEventsRequest(action: "key.excessive_use"))
        #expect(events.with(action: "key.excessive_use").count == alerts.count)
        #expect((1...windows).contains(alerts.with(action: "key.excessive_use", key: hot.id).count))
        #expect((1...windows).contains(alerts.with(action: "key.excessive_use", key: warm.id).count))
        #expect(alerts.with(action: "key.excessive_use", key: calm.id).isEmpty, "10 per minute is not above 10")
        let alert = try #require(alerts.first { $0.keyID == hot.id })
        #expect(alert.details["threshold_per_minute"] == "10")
        #expect(alert.actor == "service:console")
        #expect(alert.outcome == "success")
        await t.close()
    }
}
