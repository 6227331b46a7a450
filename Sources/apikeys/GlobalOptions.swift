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

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @Option(help: ArgumentHelp("Seconds to wait for the server.", valueName: "seconds"))
    var timeout: Double = 30

    static let defaultServer = "127.0.0.1:7420"
    /// A day: longer is surely a typo, and keeps the conversion to a Duration in range.
    static let maxTimeout = 86_400.0

    func validate() throws {
        _ = try address()
        _ = try tlsConfiguration()
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
    /// A client certificate (mutual TLS) stands for the service credential when none is given:
    /// the server maps it to a service.
    func credential(for kind: CredentialKind) throws -> Credential {
        let hasClientCertificate = value(tlsCertificate, "APIKEYS_TLS_CERTIFICATE") != nil
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
                if hasClientCertificate { return .clientCertificate() }
                throw ValidationError("this command needs a service credential: pass --service-credential or set APIKEYS_SERVICE_CREDENTIAL")
            }
            return .service(secret)
        case .user:
            // A flag on the command line beats the environment: `--service-credential`
            // must win over an APIKEYS_API_KEY left exported in the shell.
            if let key = apiKey, !key.isEmpty { return .apiKey(key) }
            if serviceCredential?.isEmpty ?? true, let key = environment("APIKEYS_API_KEY") { return .apiKey(key) }
            let secret = value(serviceCredential, "APIKEYS_SERVICE_CREDENTIAL")
            guard secret != nil || hasClientCertificate else {
                throw ValidationError("this command acts for a user: pass --api-key, or --service-credential with --tenant and --user (or their APIKEYS_* variables)")
            }
            guard let tenant = value(tenant, "APIKEYS_TENANT"), let user = value(user, "APIKEYS_USER") else {
                throw ValidationError("a service credential acts for a user: pass --tenant and --user (or set APIKEYS_TENANT and APIKEYS_USER)")
            }
            if let secret { return .service(secret, tenant: tenant, user: user) }
            return .clientCertificate(tenant: tenant, user: user)
        }
    }

    /// TLS from the --tls-* options or their APIKEYS_TLS_* variables; nil is plain TCP.
    func tlsConfiguration() throws -> RPCConnection.Configuration.TLS? {
        let ca = value(tlsCA, "APIKEYS_TLS_CA")
        let certificate = value(tlsCertificate, "APIKEYS_TLS_CERTIFICATE")
        let key = value(tlsPrivateKey, "APIKEYS_TLS_PRIVATE_KEY")
        let serverName = value(tlsServerName, "APIKEYS_TLS_SERVER_NAME")
        guard (certificate == nil) == (key == nil) else {
            throw ValidationError("--tls-certificate and --tls-private-key go together (or APIKEYS_TLS_CERTIFICATE and APIKEYS_TLS_PRIVATE_KEY)")
        }
        if let certificate, let key {
            return .mutual(certificateChain: certificate, privateKey: key, trustRoots: ca, serverHostname: serverName)
        }
        guard tls || environment("APIKEYS_TLS") == "1" || ca != nil || serverName != nil else { return nil }
        return .server(trustRoots: ca, serverHostname: serverName)
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
