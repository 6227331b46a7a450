import APIKeysClient
import APIKeysWire
import ArgumentParser
import Foundation

/// `apikeys verify <secret>`: what an internal service does with a presented key (X8).
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a key's secret with the service credential and print its principal.",
        discussion: "Exits 4 with the reason (unknown, expired, revoked, disabled) when the key does not authenticate. Pass - to read the secret from stdin, so it stays out of the process list: typed at the prompt, or apikeys verify - < key-file (a file as for --api-key-file)")

    @Argument(help: "The key's secret, or - for stdin.") var secret: String
    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func validate() throws { _ = try global.credential(for: .service) }

    func run() async throws {
        let presented = secret == "-" ? try Self.readSecret() : secret
        let reply = try await global.withClient(.service) { try await $0.verify(APIKeysV1.VerifyRequest(secret: presented)) }
        let principal = reply.principal ?? APIKeysV1.Principal()
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

    /// From a terminal, the line typed; from a pipe or file, its one line that is neither
    /// blank nor a `#` comment, as in the files of --api-key-file: `apikeys verify - < key-file`.
    static func readSecret() throws -> String {
        if isatty(STDIN_FILENO) == 1 {
            let line = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces) ?? ""
            guard !line.isEmpty else { throw CLIFailure.usage("verify -: no secret on stdin") }
            return line
        }
        let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        guard text.contains(where: { !$0.isWhitespace }) else { throw CLIFailure.usage("verify -: no secret on stdin") }
        do {
            return try SecretSource.secret(in: text, what: "verify -: stdin")
        } catch let error as ValidationError {
            throw CLIFailure.usage(error.message)
        }
    }
}
