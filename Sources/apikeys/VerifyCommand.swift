import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys verify <secret>`: what an internal service does with a presented key (X8).
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a key's secret with the service credential and print its principal.",
        discussion: "Exits 1 with the reason (unknown, expired, revoked, disabled) when the key does not authenticate. Pass - to read the secret from stdin, so it stays out of the process list.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The key's secret, or - for stdin.") var secret: String

    func validate() throws { _ = try global.credential(for: .service) }

    func run() async throws {
        let presented = secret == "-" ? (readLine(strippingNewline: true) ?? "") : secret
        let reply = try await global.withClient(.service) { try await $0.verify(VerifyRequest(secret: presented)) }
        let principal = reply.principal ?? Principal()
        if global.json {
            Output.json(.object([
                "tenantId": .string(principal.tenantID), "userId": .string(principal.userID),
                "keyId": .string(principal.keyID), "roles": .array(principal.roles.map(JSON.string)),
                "expiresAt": .time(principal.expiresAtMs),
            ]))
            return
        }
        Output.line("Valid key.")
        Output.line([
            ("Tenant", principal.tenantID), ("User", principal.userID), ("Key", principal.keyID),
            ("Roles", principal.roles.isEmpty ? "none" : principal.roles.joined(separator: ", ")),
            ("Expires", Timestamp.minutes(principal.expiresAtMs) + " UTC"),
        ].aligned())
    }
}
