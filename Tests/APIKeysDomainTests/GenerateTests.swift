import APIKeysDomain
import Testing

@Suite("Generating keys (R2, R4, R15–R18, X2, X3, X12)")
struct GenerateTests {
    @Test("R17: generate refused without a license")
    func noLicense() throws {
        let f = try Fixture()
        expectRefusal(.permissionDenied, "no_license", rule: "R17") { _ = try f.generate(f.user("unlicensed")) }
    }

    @Test("R2, R17: generate refused while API keys are disabled (the default)")
    func disabled() throws {
        let f = try Fixture(enabled: false)
        #expect(try f.service.getSettings(f.admin).apiKeysEnabled == false)
        expectRefusal(.failedPrecondition, "api_keys_disabled", rule: "R17") { _ = try f.generate(f.dev) }
    }

    @Test("R4, R17: generate refused without the Developer role")
    func notDeveloper() throws {
        let f = try Fixture()
        expectRefusal(.permissionDenied, "not_developer", rule: "R4") { _ = try f.generate(f.user("plain")) }
    }

    @Test("R17: each refusal is recorded as an event (X10)")
    func refusalsRecorded() throws {
        let f = try Fixture()
        _ = try? f.generate(f.user("unlicensed"))
        _ = try? f.generate(f.user("plain"))
        let denied = f.events(EventAction.permissionDenied)
        #expect(denied.map { $0.details["reason"] } == ["no_license", "not_developer"])
        #expect(denied.allSatisfy { $0.details["operation"] == EventAction.keyGenerated && $0.outcome == .denied })
    }

    @Test("R18: the secret is returned once; the key carries only its hash")
    func secretOnce() throws {
        let f = try Fixture()
        let generated = try f.generate(f.dev, "deploy")
        #expect(generated.secret.hasPrefix("apk_"))
        #expect(generated.key.secretHash == SecretHash(of: generated.secret))
        let fetched = try f.service.get(f.dev, keyID: generated.key.id)
        #expect(fetched.name == "deploy")
        #expect(fetched.status(at: f.clock.nowMilliseconds) == .active)
        #expect(!f.store.allEvents.contains { event in
            event.details.values.contains { $0.contains(generated.secret) }
        })
    }

    @Test("X2: expiry defaults to the tenant maximum (24 h)")
    func defaultExpiry() throws {
        let f = try Fixture()
        let key = try f.generate(f.dev).key
        #expect(key.expiresAt == f.clock.nowMilliseconds + 86_400_000)
    }

    @Test("X2: expiry must be in the future and not beyond the maximum")
    func expiryBounds() throws {
        let f = try Fixture()
        let now = f.clock.nowMilliseconds
        expectRefusal(.invalidArgument, "expiry_in_past", rule: "X2") { _ = try f.generate(f.dev, expiry: .at(now)) }
        expectRefusal(.invalidArgument, "expiry_beyond_maximum", rule: "X2") { _ = try f.generate(f.dev, expiry: .at(now + 86_400_001)) }
        expectRefusal(.invalidArgument, "expiry_beyond_maximum") { _ = try f.generate(f.dev, expiry: .inSeconds(UInt64.max)) }
        #expect(try f.generate(f.dev, expiry: .inSeconds(60)).key.expiresAt == now + 60_000)
        #expect(try f.generate(f.dev, expiry: .at(now + 86_400_000)).key.expiresAt == now + 86_400_000)
    }

    @Test("R15: changing the maximum expiry applies to new keys only")
    func maxExpiryNewKeysOnly() throws {
        let f = try Fixture()
        let old = try f.generate(f.dev).key
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxExpirySeconds: 3_600))
        #expect(try f.service.get(f.dev, keyID: old.id).expiresAt == old.expiresAt)
        #expect(try f.generate(f.dev).key.expiresAt == f.clock.nowMilliseconds + 3_600_000)
        expectRefusal(.invalidArgument, "expiry_beyond_maximum") { _ = try f.generate(f.dev, expiry: .inSeconds(3_601)) }
    }

    @Test("R16: a key that would exceed the per-user maximum is refused; lowering it keeps existing keys")
    func maxKeys() throws {
        let f = try Fixture()
        for i in 0..<5 { _ = try f.generate(f.dev, "k\(i)") }
        expectRefusal(.resourceExhausted, "key_limit", rule: "R16") { _ = try f.generate(f.dev) }
        // Another user is not affected.
        _ = try f.generate(f.dev2)
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxKeysPerUser: 2))
        let page = try f.service.list(f.dev, KeyListRequest())
        #expect(page.keys.count == 5)
        #expect(page.keys.allSatisfy { $0.status(at: f.clock.nowMilliseconds) == .active })
        expectRefusal(.resourceExhausted, "key_limit") { _ = try f.generate(f.dev) }
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxKeysPerUser: 0))
        expectRefusal(.resourceExhausted, "key_limit") { _ = try f.generate(f.dev2) }
    }

    @Test("X3: only Active keys count toward the maximum (expired and revoked do not)")
    func activeCount() throws {
        let f = try Fixture()
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxKeysPerUser: 2))
        let short = try f.generate(f.dev, expiry: .inSeconds(60)).key
        let revoked = try f.generate(f.dev).key
        expectRefusal(.resourceExhausted, "key_limit") { _ = try f.generate(f.dev) }
        _ = try f.service.revoke(f.dev, keyID: revoked.id)
        _ = try f.generate(f.dev)
        expectRefusal(.resourceExhausted, "key_limit") { _ = try f.generate(f.dev) }
        f.clock.advance(bySeconds: 61)
        #expect(try f.service.get(f.dev, keyID: short.id).status(at: f.clock.nowMilliseconds) == .expired)
        _ = try f.generate(f.dev)
    }

    @Test("X12: names are trimmed, 1 to 256 printable characters; duplicates allowed")
    func names() throws {
        let f = try Fixture()
        #expect(try f.generate(f.dev, "  deploy bot \n").key.name == "deploy bot")
        #expect(try f.generate(f.dev, "Zürich 🚀👩‍💻").key.name == "Zürich 🚀👩‍💻")
        _ = try f.generate(f.dev, "deploy bot")
        expectRefusal(.invalidArgument, "name_empty", rule: "X12") { _ = try f.generate(f.dev, "   ") }
        expectRefusal(.invalidArgument, "name_too_long", rule: "X12") { _ = try f.generate(f.dev, String(repeating: "x", count: 257)) }
        expectRefusal(.invalidArgument, "name_not_printable", rule: "X12") { _ = try f.generate(f.dev, "bad\u{0007}name") }
        expectRefusal(.invalidArgument, "name_not_printable") { _ = try f.generate(f.dev, "rtl\u{202E}name") }
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxKeysPerUser: 10))
        #expect(try f.generate(f.dev, String(repeating: "é", count: 256)).key.name.count == 256)
    }

    @Test("X10: key.generated is recorded with the key ID and no secret")
    func generatedEvent() throws {
        let f = try Fixture()
        let generated = try f.generate(f.dev, "ci")
        let event = try #require(f.events(EventAction.keyGenerated).last)
        #expect(event.keyID == generated.key.id)
        #expect(event.actor == "user:dev")
        #expect(event.details["via"] == "service:portal")
        #expect(event.tenantID == "acme")
    }
}
