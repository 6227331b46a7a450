import APIKeysWire
import ArgumentParser

/// `apikeys`: every operation of the apikeys API from a terminal.
///
/// ```
/// apikeys --server 127.0.0.1:7420 health
/// apikeys --api-key "$KEY" keys list --search pipe
/// ```
@main
struct APIKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikeys",
        abstract: "Manage API keys on an apikeys server.",
        discussion: """
            Which credential a command uses (each option can also be set in the environment):
              tenants create, users create|remove, credentials ...:
                --operator-credential
              verify: --service-credential alone
              everything else: --api-key, or else --service-credential acting
                for --tenant and --user
            Add --json to any command for machine-readable output.
            Exit codes: 0 success, 1 the call failed, 64 usage error.
            """,
        subcommands: [
            HealthCommand.self, TenantsCommand.self, UsersCommand.self,
            CredentialsCommand.self, SettingsCommand.self, KeysCommand.self,
            VerifyCommand.self, EventsCommand.self,
        ])

    /// Declared here as well as in every command so the options may come before the
    /// command name (`apikeys --json keys list`) as well as after it.
    @OptionGroup var global: GlobalOptions

    /// Like the default entry point, but a failed call is one `error:` line and exit 1,
    /// never a stack trace; usage errors keep ArgumentParser's message and exit 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            failure.report()
            exit(withError: ExitCode.failure)
        } catch let error as RPCError {
            CLIFailure(error).report()
            exit(withError: ExitCode.failure)
        } catch {
            exit(withError: error)
        }
    }
}
