import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys keys generate`: the one place a key's secret is ever shown (R18, X7).
struct KeysGenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate a key; its secret is shown once.",
        discussion: "Needs a license, API keys enabled in the tenant and the Developer role (R17). Without an expiry the key gets the tenant's maximum (X2).")

    @Option(help: "What the key is for (its name, R18).") var name: String
    @Option(help: ArgumentHelp("Expire after this long, e.g. 90m, 12h, 30d.", valueName: "duration"),
            transform: DurationArgument.parse)
    var expiresIn: DurationArgument?
    @Option(help: ArgumentHelp("Expire at this time (ISO 8601, UTC unless a zone is given).", valueName: "time"),
            transform: TimeArgument.absolute)
    var expiresAt: Int64?
    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func validate() throws {
        if expiresIn != nil, expiresAt != nil {
            throw ValidationError("give --expires-in or --expires-at, not both")
        }
        _ = try global.credential(for: .user)
    }

    func run() async throws {
        let expiry: APIKeysV1.GenerateKeyRequest.Expiry? =
            if let expiresIn { .expiresInSeconds(expiresIn.seconds) }
            else if let expiresAt { .expiresAtMs(expiresAt) }
            else { nil }
        let reply = try await global.withClient(.user) {
            try await $0.generateKey(APIKeysV1.GenerateKeyRequest(name: name, expiry: expiry))
        }
        let key = reply.key ?? APIKeysV1.ApiKey(name: name)
        if global.json {
            Output.json(.object(["key": key.json, "secret": .string(reply.secret)]))
            return
        }
        Output.line("Generated key \(key.id) \"\(key.name)\" for \(key.ownerID), expires \(Timestamp.minutes(key.expiresAtMs)) UTC.")
        Output.line()
        Output.line("  \(reply.secret)")
        Output.line()
        Output.line("Copy the secret now: it will not be shown again.")
    }
}
