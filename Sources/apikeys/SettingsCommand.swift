import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys settings ...`: the tenant's API-key settings (tenant admin; R2, R14–R16, X2, X9).
struct SettingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings", abstract: "Show or change the tenant's API-key settings (tenant admin).",
        subcommands: [Get.self, Update.self])

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the settings.")

        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .user) }

        func run() async throws {
            let settings = try await global.withClient(.user) { try await $0.getSettings().settings }
            SettingsCommand.show(settings ?? APIKeysV1.TenantSettings(), json: global.json)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the settings; only the options given change.",
            discussion: "Max expiry and max keys per user apply to new keys only (R15, R16).")

        @Option(help: ArgumentHelp("Switch all API keys of the tenant on or off (R14).", valueName: "true|false"))
        var enabled: Bool?
        @Option(help: ArgumentHelp("Longest expiry of a new key, 1h to 365d (e.g. 24h, 30d).", valueName: "duration"),
                transform: DurationArgument.parse)
        var maxExpiry: DurationArgument?
        @Option(help: ArgumentHelp("Active keys a user may have, 0 to 1000.", valueName: "n"))
        var maxKeysPerUser: UInt32?
        @Option(help: ArgumentHelp("Verifications per minute that raise an excessive-use event.", valueName: "n"))
        var excessiveUsePerMinute: UInt32?
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws {
            if enabled == nil, maxExpiry == nil, maxKeysPerUser == nil, excessiveUsePerMinute == nil {
                throw ValidationError("nothing to update: give at least one of --enabled, --max-expiry, --max-keys-per-user, --excessive-use-per-minute")
            }
            _ = try global.credential(for: .user)
        }

        func run() async throws {
            let request = APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: enabled, maxExpirySeconds: maxExpiry?.seconds,
                                                maxKeysPerUser: maxKeysPerUser, excessiveUsePerMinute: excessiveUsePerMinute)
            let settings = try await global.withClient(.user) { try await $0.updateSettings(request).settings }
            if !global.json { Output.line("Updated the settings.") }
            SettingsCommand.show(settings ?? APIKeysV1.TenantSettings(), json: global.json)
        }
    }

    static func show(_ settings: APIKeysV1.TenantSettings, json: Bool) {
        if json {
            Output.json(settings.json)
        } else {
            Output.line(settings.details)
        }
    }
}
