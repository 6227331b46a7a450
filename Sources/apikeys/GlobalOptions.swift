import APIKeysClient
import APIKeysWire
import ArgumentParser
import Foundation

/// The options every command shares. Each falls back to an environment variable, so
/// credentials need not appear on the command line (where `ps` would show them).
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Server address host:port (env APIKEYS_SERVER).", valueName: "host:port"))
    var server: String?

    @Option(help: ArgumentHelp("Operator credential, for provisioning (env APIKEYS_OPERATOR_CREDENTIAL).", valueName: "secret"))
    var operatorCredential: String?

    @Option(help: ArgumentHelp("Service credential (env APIKEYS_SERVICE_CREDENTIAL).", valueName: "secret"))
    var serviceCredential: String?

    @Option(help: "Tenant the service acts in, or the operator's users create|remove work in (env APIKEYS_TENANT).")
    var tenant: String?

    @Option(help: "User the service acts for (env APIKEYS_USER).")
    var user: String?

    @Option(help: ArgumentHelp("Act as this API key's owner (env APIKEYS_API_KEY).", valueName: "secret"))
    var apiKey: String?

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @Option(help: ArgumentHelp("Seconds to wait for the server.", valueName: "seconds"))
    var timeout: Double = 30

    static let defaultServer = "127.0.0.1:7420"
    /// A day: longer is surely a typo, and keeps the conversion to a Duration in range.
    static let maxTimeout = 86_400.0

    func validate() throws {
        _ = try address()
        guard timeout >= 0.001, timeout <= Self.maxTimeout else {
            throw ValidationError("--timeout must be 0.001 to \(Int(Self.maxTimeout)) seconds")
        }
    }

    /// The address from --server, APIKEYS_SERVER or the default.
    func address() throws -> ServerAddress {
        let text = server ?? environment("APIKEYS_SERVER") ?? Self.defaultServer
        guard let address = ServerAddress(text) else {
            throw ValidationError("'\(text)' is not a server address: use host:port, e.g. \(Self.defaultServer)")
        }
        return address
    }

    /// The credential a command of this kind acts with, or a usage error that says what is missing.
    func credential(for kind: CredentialKind) throws -> Credential {
        switch kind {
        case .none:
            return .none
        case .operator:
            guard let secret = value(operatorCredential, "APIKEYS_OPERATOR_CREDENTIAL") else {
                throw ValidationError("this command needs the operator credential: pass --operator-credential or set APIKEYS_OPERATOR_CREDENTIAL")
            }
            return .operator(secret)
        case .service:
            guard let secret = value(serviceCredential, "APIKEYS_SERVICE_CREDENTIAL") else {
                throw ValidationError("this command needs a service credential: pass --service-credential or set APIKEYS_SERVICE_CREDENTIAL")
            }
            return .service(secret)
        case .user:
            // A flag on the command line beats the environment: `--service-credential`
            // must win over an APIKEYS_API_KEY left exported in the shell.
            if let key = apiKey, !key.isEmpty { return .apiKey(key) }
            if serviceCredential?.isEmpty ?? true, let key = environment("APIKEYS_API_KEY") { return .apiKey(key) }
            guard let secret = value(serviceCredential, "APIKEYS_SERVICE_CREDENTIAL") else {
                throw ValidationError("this command acts for a user: pass --api-key, or --service-credential with --tenant and --user (or their APIKEYS_* variables)")
            }
            guard let tenant = value(tenant, "APIKEYS_TENANT"), let user = value(user, "APIKEYS_USER") else {
                throw ValidationError("a service credential acts for a user: pass --tenant and --user (or set APIKEYS_TENANT and APIKEYS_USER)")
            }
            return .service(secret, tenant: tenant, user: user)
        }
    }

    /// The operator names the tenant of `users create|remove` with the same --tenant
    /// (or APIKEYS_TENANT) a service acts in: one flag, one meaning.
    func requiredTenant() throws -> String {
        guard let tenant = value(tenant, "APIKEYS_TENANT") else {
            throw ValidationError("which tenant? pass --tenant (or set APIKEYS_TENANT)")
        }
        return tenant
    }

    /// An option, else its environment variable; empty counts as unset.
    private func value(_ option: String?, _ variable: String) -> String? {
        if let option, !option.isEmpty { return option }
        return environment(variable)
    }

    private func environment(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}

/// Which credential a command needs (docs/PROTOCOL.md §4).
enum CredentialKind {
    /// Health: anyone.
    case none
    /// Provisioning tenants, users and service credentials.
    case `operator`
    /// Verify: a trusted service, acting for nobody.
    case service
    /// Everything else: a user, by API key or through the service credential.
    case user
}
