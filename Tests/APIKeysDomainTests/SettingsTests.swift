import APIKeysDomain
import Testing

@Suite("Settings (R2, R3, R14, X2)")
struct SettingsTests {
    @Test("X2: defaults are disabled, 24 hours, 5 keys, 600 per minute")
    func defaults() throws {
        let f = try Fixture(enabled: false)
        let settings = try f.service.getSettings(f.admin)
        #expect(settings.apiKeysEnabled == false)
        #expect(settings.maxExpirySeconds == 86_400)
        #expect(settings.maxKeysPerUser == 5)
        #expect(settings.excessiveUsePerMinute == 600)
    }

    @Test("X2: bounds are 1 hour to 365 days and 0 to 1000 keys")
    func bounds() throws {
        let f = try Fixture()
        expectRefusal(.invalidArgument, "max_expiry_out_of_range", rule: "X2") { _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxExpirySeconds: 3_599)) }
        expectRefusal(.invalidArgument, "max_expiry_out_of_range") { _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxExpirySeconds: 31_536_001)) }
        expectRefusal(.invalidArgument, "max_keys_out_of_range") { _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxKeysPerUser: 1_001)) }
        expectRefusal(.invalidArgument, "excessive_use_out_of_range") { _ = try f.service.updateSettings(f.admin, SettingsUpdate(excessiveUsePerMinute: 0)) }
        let updated = try f.service.updateSettings(f.admin, SettingsUpdate(maxExpirySeconds: 31_536_000, maxKeysPerUser: 0))
        #expect(updated.maxExpirySeconds == 31_536_000 && updated.maxKeysPerUser == 0)
        #expect(try f.service.updateSettings(f.admin, SettingsUpdate(maxExpirySeconds: 3_600)).maxExpirySeconds == 3_600)
        // A refused update changes nothing, not even the fields that were valid.
        expectRefusal(.invalidArgument, "max_keys_out_of_range") { _ = try f.service.updateSettings(f.admin, SettingsUpdate(apiKeysEnabled: false, maxKeysPerUser: 5_000)) }
        #expect(try f.service.getSettings(f.admin).apiKeysEnabled)
    }

    @Test("R3, R14: only a tenant admin reads or changes the settings")
    func adminOnly() throws {
        let f = try Fixture()
        expectRefusal(.permissionDenied, "not_tenant_admin", rule: "R3") { _ = try f.service.updateSettings(f.dev, SettingsUpdate(apiKeysEnabled: false)) }
        expectRefusal(.permissionDenied, "not_tenant_admin") { _ = try f.service.getSettings(f.dev) }
        #expect(try f.service.getSettings(f.admin).apiKeysEnabled)
        #expect(f.events(EventAction.permissionDenied).count == 2)
    }

    @Test("X10: settings.changed names each changed field, old and new")
    func changedEvent() throws {
        let f = try Fixture()
        f.clock.advance(bySeconds: 1)
        let before = f.events(EventAction.settingsChanged).count
        let updated = try f.service.updateSettings(f.admin, SettingsUpdate(maxKeysPerUser: 7))
        #expect(updated.updatedAt == f.clock.nowMilliseconds)
        let event = try #require(f.events(EventAction.settingsChanged).last)
        #expect(event.details["max_keys_per_user"] == "5 -> 7")
        // No change, no event.
        _ = try f.service.updateSettings(f.admin, SettingsUpdate(maxKeysPerUser: 7))
        #expect(f.events(EventAction.settingsChanged).count == before + 1)
    }
}
