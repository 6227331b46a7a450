import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys service-credentials create`: a credential for a trusted internal service (X13).
struct ServiceCredentialsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service-credentials", abstract: "Create service credentials (operator).",
        subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a service credential; its secret is shown once.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "1 to 64 of a-z, 0-9, '-' and '_': the actor name in events.") var name: String

        func validate() throws { _ = try global.credential(for: .operator) }

        func run() async throws {
            let reply = try await global.withClient(.operator) {
                try await $0.createServiceCredential(CreateServiceCredentialRequest(name: name))
            }
            if global.json {
                Output.json(.object(["name": .string(reply.name), "secret": .string(reply.secret)]))
                return
            }
            Output.line("Created service credential \(reply.name.isEmpty ? name : reply.name). Its secret:")
            Output.line()
            Output.line("  \(reply.secret)")
            Output.line()
            Output.line("Copy it now: it will not be shown again. To use it:")
            Output.line("  export APIKEYS_SERVICE_CREDENTIAL='\(reply.secret)'")
        }
    }
}
