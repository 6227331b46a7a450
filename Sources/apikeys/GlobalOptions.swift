import APIKeysClient
import APIKeysWire
import ArgumentParser
import Foundation

/// The options every command shares. Each setting comes from, in this order: its flag, its
/// environment variable, the selected context of the config file (`ContextFile`), a default.
/// Secrets are best given as files or variables: `ps` shows every command line.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Server address host:port (env APIKEYS_SERVER).", valueName: "host:port"))
    var server: String?

    @Option(name: .customLong("context"),
            help: ArgumentHelp("Use this context of the config file (env APIKEYS_CONTEXT; file: env APIKEYS_CONFIG or ~/.config/apikeys/config.json).", valueName: "name"))
    var contextName: String?

    @Option(help: ArgumentHelp("File holding the operator credential, for provisioning (env APIKEYS_OPERATOR_CREDENTIAL holds the secret itself).", valueName: "path"))
    var operatorCredentialFile: String?

    @Option(help: ArgumentHelp("File holding the service credential (env APIKEYS_SERVICE_CREDENTIAL).", valueName: "path"))
    var serviceCredentialFile: String?

    @Option(help: ArgumentHelp("File holding an API key: act as its owner (env APIKEYS_API_KEY).", valueName: "path"))
    var apiKeyFile: String?

    // X18: never a secret on the command line (ps shows arguments to every user). These are
    // kept, hidden, only to refuse them with a pointer to the file and environment forms.
    @Option(help: .hidden) var operatorCredential: String?
    @Option(help: .hidden) var serviceCredential: String?
    @Option(help: .hidden) var apiKey: String?

    @Option(help: "Tenant the service acts in, or the operator's users create|remove work in (env APIKEYS_TENANT).")
    var tenant: String?

    @Option(help: "User the service acts for (env APIKEYS_USER).")
    var user: String?

    @Option(help: ArgumentHelp("Connect with TLS, trusting these PEM roots (env APIKEYS_TLS_CA).", valueName: "path"))
    var tlsCA: String?

    @Flag(help: "Connect with TLS, trusting the system's roots (env APIKEYS_TLS=1).")
    var tls = false

    @Option(help: ArgumentHelp("Client certificate for mutual TLS, PEM (env APIKEYS_TLS_CERTIFICATE); it may stand for the service credential.", valueName: "path"))
    var tlsCertificate: String?

    @Option(help: ArgumentHelp("Private key of --tls-certificate, PEM (env APIKEYS_TLS_PRIVATE_KEY).", valueName: "path"))
    var tlsPrivateKey: String?

    @Option(help: ArgumentHelp("Name the server's certificate must carry, if not the host (env APIKEYS_TLS_SERVER_NAME).", valueName: "name"))
    var tlsServerName: String?

    @Flag(help: "Print machine-readable JSON, errors included (one object on stdout).")
    var json = false

    @Option(help: ArgumentHelp("Seconds to wait for the server (default 30).", valueName: "seconds"))
    var timeout: Double?

    static let defaultServer = "127.0.0.1:7420"
    static let defaultTimeout = 30.0
    /// A day: longer is surely a typo, and keeps the conversion to a Duration in range.
    static let maxTimeout = 86_400.0

    func validate() throws {
        for (value, file, name) in [(apiKey, apiKeyFile, "api-key"),
                                    (serviceCredential, serviceCredentialFile, "service-credential"),
                                    (operatorCredential, operatorCredentialFile, "operator-credential")]
        where value != nil {
            _ = file
            let variable = "APIKEYS_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
            throw ValidationError("--\(name) would put a secret on the command line, where ps shows it to every user (X18): use --\(name)-file PATH or \(variable)")
        }
        let context = try context()
        _ = try address(context)
        _ = try tlsConfiguration(context)
        let timeout = seconds(context)
        guard timeout >= 0.001, timeout <= Self.maxTimeout else {
            throw ValidationError("--timeout must be 0.001 to \(Int(Self.maxTimeout)) seconds")
        }
    }

    /// The context named by --context or APIKEYS_CONTEXT, or the config file's current one;
    /// nil when there is no config file and none was named.
    func context() throws -> ContextFile.Context? {
        let name = nonEmpty(contextName) ?? environment("APIKEYS_CONTEXT")
        let path = ContextFile.defaultPath()
        guard let file = try ContextFile.load(path) else {
            if let name {
                throw ValidationError("context '\(name)': there is no config file at \(path) (create it, or set APIKEYS_CONFIG)")
            }
            return nil
        }
        return try file.selected(name)
    }

    /// The address from --server, APIKEYS_SERVER, the context or the default.
    func address(_ context: ContextFile.Context?) throws -> ServerAddress {
        let text = value(server, "APIKEYS_SERVER", context?.server) ?? Self.defaultServer
        guard let address = ServerAddress(text) else {
            throw ValidationError("'\(text)' is not a server address: use host:port, e.g. \(Self.defaultServer)")
        }
        return address
    }

    func seconds(_ context: ContextFile.Context?) -> Double {
        timeout ?? context?.timeout ?? Self.defaultTimeout
    }

    /// The credential a command of this kind acts with, or a usage error that says what is missing.
    /// A client certificate (mutual TLS) stands for the service credential when none is given:
    /// the server maps it to a service.
    func credential(for kind: CredentialKind) throws -> Credential {
        let context = try context()
        let hasClientCertificate = value(tlsCertificate, "APIKEYS_TLS_CERTIFICATE", context?.tlsCertificate) != nil
        let operatorSecret = SecretSource.first(operatorCredential, operatorCredentialFile, flag: "operator-credential",
                                                variable: "APIKEYS_OPERATOR_CREDENTIAL", context: context?.operatorCredentialFile)
        let serviceSecret = SecretSource.first(serviceCredential, serviceCredentialFile, flag: "service-credential",
                                               variable: "APIKEYS_SERVICE_CREDENTIAL", context: context?.serviceCredentialFile)
        let keySecret = SecretSource.first(apiKey, apiKeyFile, flag: "api-key",
                                           variable: "APIKEYS_API_KEY", context: context?.apiKeyFile)
        switch kind {
        case .none:
            return .none
        case .operator:
            guard let operatorSecret else {
                throw ValidationError("this command needs the operator credential: pass --operator-credential-file or set APIKEYS_OPERATOR_CREDENTIAL")
            }
            return .operator(try operatorSecret.read())
        case .service:
            guard let serviceSecret else {
                if hasClientCertificate { return .clientCertificate() }
                throw ValidationError("this command needs a service credential: pass --service-credential-file or set APIKEYS_SERVICE_CREDENTIAL")
            }
            return .service(try serviceSecret.read())
        case .user:
            // The nearer source wins: `--service-credential-file` on the command line beats an
            // APIKEYS_API_KEY left exported in the shell; at the same level the key wins.
            if let keySecret, keySecret.level <= (serviceSecret?.level ?? .max) {
                return .apiKey(try keySecret.read())
            }
            guard serviceSecret != nil || hasClientCertificate else {
                throw ValidationError("this command acts for a user: pass --api-key-file, or --service-credential-file with --tenant and --user (or their APIKEYS_* variables)")
            }
            guard let tenant = value(tenant, "APIKEYS_TENANT", context?.tenant),
                  let user = value(user, "APIKEYS_USER", context?.user) else {
                throw ValidationError("a service credential acts for a user: pass --tenant and --user (or set APIKEYS_TENANT and APIKEYS_USER)")
            }
            if let serviceSecret { return .service(try serviceSecret.read(), tenant: tenant, user: user) }
            return .clientCertificate(tenant: tenant, user: user)
        }
    }

    /// The kind of credential given, for `apikeys call`, which may call any method: the one
    /// from the nearest source (command line, then environment, then context); at the same
    /// level an API key or a service acting for --tenant and --user, then a service alone,
    /// then the operator. `.none` when none is given.
    func givenCredentialKind() throws -> CredentialKind {
        let context = try context()
        let actsForUser = value(tenant, "APIKEYS_TENANT", context?.tenant) != nil
            && value(user, "APIKEYS_USER", context?.user) != nil
        let certificateLevel: Int? = nonEmpty(tlsCertificate) != nil ? 0
            : environment("APIKEYS_TLS_CERTIFICATE") != nil ? 1 : nonEmpty(context?.tlsCertificate) != nil ? 2 : nil
        var given: [(level: Int, rank: Int, kind: CredentialKind)] = []
        if let key = SecretSource.first(apiKey, apiKeyFile, flag: "api-key", variable: "APIKEYS_API_KEY",
                                        context: context?.apiKeyFile) {
            given.append((key.level, 0, .user))
        }
        let service = SecretSource.first(serviceCredential, serviceCredentialFile, flag: "service-credential",
                                         variable: "APIKEYS_SERVICE_CREDENTIAL", context: context?.serviceCredentialFile)
        if let level = service?.level ?? certificateLevel {
            given.append((level, actsForUser ? 0 : 1, actsForUser ? .user : .service))
        }
        if let operatorSecret = SecretSource.first(operatorCredential, operatorCredentialFile, flag: "operator-credential",
                                                   variable: "APIKEYS_OPERATOR_CREDENTIAL", context: context?.operatorCredentialFile) {
            given.append((operatorSecret.level, 2, .operator))
        }
        return given.min { ($0.level, $0.rank) < ($1.level, $1.rank) }?.kind ?? .none
    }

    /// TLS from the --tls-* options, their APIKEYS_TLS_* variables or the context; nil is plain TCP.
    func tlsConfiguration(_ context: ContextFile.Context?) throws -> RPCConnection.Configuration.TLS? {
        let ca = value(tlsCA, "APIKEYS_TLS_CA", context?.tlsCA)
        let certificate = value(tlsCertificate, "APIKEYS_TLS_CERTIFICATE", context?.tlsCertificate)
        let key = value(tlsPrivateKey, "APIKEYS_TLS_PRIVATE_KEY", context?.tlsPrivateKey)
        let serverName = value(tlsServerName, "APIKEYS_TLS_SERVER_NAME", context?.tlsServerName)
        guard (certificate == nil) == (key == nil) else {
            throw ValidationError("--tls-certificate and --tls-private-key go together (or APIKEYS_TLS_CERTIFICATE and APIKEYS_TLS_PRIVATE_KEY)")
        }
        if let certificate, let key {
            return .mutual(certificateChain: certificate, privateKey: key, trustRoots: ca, serverHostname: serverName)
        }
        let wanted = tls || environment("APIKEYS_TLS") == "1" || context?.tls == true
        guard wanted || ca != nil || serverName != nil else { return nil }
        return .server(trustRoots: ca, serverHostname: serverName)
    }

    /// The operator names the tenant of `users create|remove` with the same --tenant
    /// (or APIKEYS_TENANT) a service acts in: one flag, one meaning.
    func requiredTenant() throws -> String {
        let context = try context()
        guard let tenant = value(tenant, "APIKEYS_TENANT", context?.tenant) else {
            throw ValidationError("which tenant? pass --tenant (or set APIKEYS_TENANT)")
        }
        return tenant
    }

    /// An option, else its environment variable, else the context's value; empty counts as unset.
    private func value(_ option: String?, _ variable: String, _ fromContext: String? = nil) -> String? {
        nonEmpty(option) ?? environment(variable) ?? nonEmpty(fromContext)
    }
}

private func nonEmpty(_ text: String?) -> String? {
    guard let text, !text.isEmpty else { return nil }
    return text
}

func environment(_ name: String) -> String? {
    nonEmpty(ProcessInfo.processInfo.environment[name])
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
