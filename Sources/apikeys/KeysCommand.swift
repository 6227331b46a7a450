import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys keys ...`: generate, list and manage API keys, acting as a user
/// (by --api-key, or the service credential for --tenant and --user).
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Generate, list, rename, revoke and delete API keys.",
        subcommands: [KeysGenerateCommand.self, KeysListCommand.self, Get.self, Rename.self,
                      Revoke.self, RevokeMany.self, Delete.self])

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a key (owner or tenant admin).")

        @Argument var keyID: String
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .user) }

        func run() async throws {
            let key = try await global.withClient(.user) { try await $0.getKey(APIKeysV1.GetKeyRequest(keyID: keyID)).key }
            KeysCommand.show(key ?? APIKeysV1.ApiKey(id: keyID), json: global.json, saying: nil)
        }
    }

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename one of your keys (owner, R19).")

        @Argument var keyID: String
        @Argument(help: "1 to 256 printable characters.") var newName: String
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .user) }

        func run() async throws {
            let key = try await global.withClient(.user) {
                try await $0.renameKey(APIKeysV1.RenameKeyRequest(keyID: keyID, name: newName)).key
            }
            KeysCommand.show(key ?? APIKeysV1.ApiKey(id: keyID, name: newName), json: global.json, saying: "Renamed key")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an active key for good (owner or tenant admin; R10, R12, X5).")

        @Argument var keyID: String
        @Option(help: "Why, for the event log.") var reason: String?
        @Flag(name: .shortAndLong, help: "Do not ask for confirmation (needed when stdin is not a terminal).") var yes = false
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .user) }

        func run() async throws {
            try Confirmation.confirm("revoke key \(keyID)", yes: yes)
            let key = try await global.withClient(.user) {
                try await $0.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: keyID, reason: reason ?? "")).key
            }
            KeysCommand.show(key ?? APIKeysV1.ApiKey(id: keyID, status: .revoked), json: global.json, saying: "Revoked key")
        }
    }

    struct RevokeMany: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke several keys at once, with an outcome per key (R11, X6).",
            discussion: "Keys that can be revoked are revoked even when others cannot; the exit status is 1 unless every key was revoked.")

        @Argument(help: "The keys to revoke.") var keyIDs: [String]
        @Option(help: "Why, for the event log.") var reason: String?
        @Flag(name: .shortAndLong, help: "Do not ask for confirmation (needed when stdin is not a terminal).") var yes = false
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws {
            if keyIDs.isEmpty { throw ValidationError("give at least one key ID") }
            _ = try global.credential(for: .user)
        }

        func run() async throws {
            try Confirmation.confirm("revoke \(keyIDs.count) key(s): \(keyIDs.joined(separator: ", "))", yes: yes)
            let results = try await global.withClient(.user) {
                try await $0.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: keyIDs, reason: reason ?? "")).results
            }
            let revoked = results.filter { $0.outcome == .revoked }.count
            if global.json {
                Output.json(.object([
                    "results": .array(results.map { result in
                        .object(["keyId": .string(result.keyID),
                                 "outcome": .string(result.outcome.label.replacingSpaces()),
                                 "message": .string(result.message)])
                    }),
                    "revoked": .uint(UInt64(revoked)), "requested": .uint(UInt64(keyIDs.count)),
                ]))
            } else {
                var table = Table("KEY", "OUTCOME", "MESSAGE")
                for result in results {
                    table.append(result.keyID, result.outcome.label, result.message.isEmpty ? "-" : result.message)
                }
                Output.line(table.rendered())
                Output.line("\(revoked) of \(keyIDs.count) key(s) revoked.")
            }
            if revoked < keyIDs.count {
                // With --json the results above say it all: nothing on stderr.
                if !global.json { Output.error("error: \(keyIDs.count - revoked) of \(keyIDs.count) key(s) not revoked") }
                throw ExitCode(ExitStatus.failure)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete one of your keys (owner with the Developer role; R13, R19).")

        @Argument var keyID: String
        @Flag(name: .shortAndLong, help: "Do not ask for confirmation (needed when stdin is not a terminal).") var yes = false
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .user) }

        func run() async throws {
            try Confirmation.confirm("delete key \(keyID)", yes: yes)
            _ = try await global.withClient(.user) { try await $0.deleteKey(APIKeysV1.DeleteKeyRequest(keyID: keyID)) }
            if global.json {
                Output.json(.object(["keyId": .string(keyID), "deleted": .bool(true)]))
            } else {
                Output.line("Deleted key \(keyID).")
            }
        }
    }

    static func show(_ key: APIKeysV1.ApiKey, json: Bool, saying verb: String?) {
        if json {
            Output.json(key.json)
            return
        }
        if let verb { Output.line("\(verb) \(key.id).") }
        Output.line(key.details)
    }
}

extension String {
    /// `not found` → `not_found`, for JSON values.
    func replacingSpaces() -> String {
        String(map { $0 == " " ? "_" : $0 })
    }
}
