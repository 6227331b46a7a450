import APIKeysWire
import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `apikeys`: every operation of the apikeys API from a terminal.
///
/// ```
/// apikeys --server 127.0.0.1:7420 health
/// apikeys --api-key-file ~/.apikeys/ci keys list --search pipe
/// ```
@main
struct APIKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikeys",
        abstract: "Manage API keys on an apikeys server.",
        discussion: """
            Which credential a command uses (each can come from a file, the environment or
            a context of the config file, which keeps it out of the process list):
              tenants create, users create|remove, credentials ..., events list --audit-log:
                --operator-credential-file
              verify: --service-credential-file alone
              everything else: --api-key-file, or else --service-credential-file acting
                for --tenant and --user
              call: whichever is given (--as picks one)
            Add --json to any command for machine-readable output (errors included).
            Exit codes: 0 success, 1 other failure, 2 cancelled, 3 not found,
            4 unauthenticated, 5 permission denied, 6 failed precondition, 7 already exists,
            64 usage, 69 unavailable (cannot connect, TLS, timeout). A closed output pipe
            ends the tool by SIGPIPE, silently (exit status 141 in a shell).
            """,
        version: APIKeysVersion.current,
        subcommands: [
            HealthCommand.self, TenantsCommand.self, UsersCommand.self,
            CredentialsCommand.self, SettingsCommand.self, KeysCommand.self,
            VerifyCommand.self, EventsCommand.self, CallCommand.self, ContextsCommand.self,
        ])

    /// Declared here as well as in every command so the options may come before the
    /// command name (`apikeys --json keys list`) as well as after it.
    @OptionGroup(title: "Global Options") var global: GlobalOptions

    /// Like the default entry point, but every failure is one `error:` line on stderr (or,
    /// with --json, one JSON object on stdout) and a documented exit status; never a trace.
    static func main() async {
        Output.ignoreSIGPIPE()
        let json = Self.wantsJSON(CommandLine.arguments.dropFirst())
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            parseFailed(error, json: json)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            fail(failure, json: json)
        } catch let error as RPCError {
            fail(CLIFailure(error), json: json)
        } catch let error as ValidationError {
            // Found while running (an unreadable secret file): the message says what to fix.
            fail(.usage(error.message), json: json)
        } catch let code as ExitCode {
            // A command that reported its outcome itself (a partial revoke-many, not serving).
            terminate(code.rawValue)
        } catch {
            // --help and --generate-completion-script parse into commands whose run() throws.
            parseFailed(error, json: json)
        }
    }

    /// ArgumentParser's own messages, with our prefix: `error: ...` and the usage line;
    /// help, version and completion scripts as it prints them.
    private static func parseFailed(_ error: any Error, json: Bool) -> Never {
        let status = exitCode(for: error).rawValue
        guard status != ExitStatus.success else {
            // --help, --version and --generate-completion-script.
            let text = fullMessage(for: error)
            if text.contains(HelpText.globalHeader) {
                Output.line(HelpText.ownOptionsFirst(text))
                terminate(ExitStatus.success)
            }
            exit(withError: error)
        }
        if json {
            let code = status == ExitStatus.usage ? "USAGE" : "UNKNOWN"
            fail(CLIFailure(code: code, message: message(for: error), exitStatus: status), json: true)
        }
        var text = fullMessage(for: error)
        if text.hasPrefix("Error: ") { text = "error: " + text.dropFirst("Error: ".count) }
        if !text.hasPrefix("error: ") { text = "error: " + text }
        Output.error(text)
        terminate(status)
    }

    private static func fail(_ failure: CLIFailure, json: Bool) -> Never {
        failure.report(json: json)
        terminate(failure.exitStatus)
    }

    private static func terminate(_ status: Int32) -> Never {
        #if canImport(Glibc)
        Glibc.exit(status)
        #else
        Darwin.exit(status)
        #endif
    }

    /// --json anywhere before a `--`: decided from argv, so that a command line that does
    /// not parse still gets its error as JSON.
    static func wantsJSON(_ arguments: ArraySlice<String>) -> Bool {
        for argument in arguments {
            if argument == "--" { return false }
            if argument == "--json" { return true }
        }
        return false
    }
}
