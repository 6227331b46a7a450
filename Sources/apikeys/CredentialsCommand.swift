import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys credentials list|create|rotate|revoke`: the operator's service and operator
/// credentials (X18). Secrets are shown once, when created or rotated.
struct CredentialsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credentials", abstract: "List, create, rotate and revoke service and operator credentials (operator).",
        discussion: """
            To replace a credential without an outage: rotate it (the old secret keeps working),
            deploy the new secret, then revoke the old credential.
            """,
        subcommands: [List.self, Create.self, Rotate.self, Revoke.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every credential, stored and configured, revoked ones included; never a secret.")

        @Flag(help: "Every credential; the server always sends them all in one reply, so this changes nothing.") var all = false
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .operator) }

        func run() async throws {
            let credentials = try await global.withClient(.operator) { try await $0.listCredentials().credentials }
            if global.json {
                Output.json(.object(["credentials": .array(credentials.map(\.jsonValue))]))
                return
            }
            var table = Table("ID", "KIND", "NAME", "SCOPE", "TENANTS", "CREATED", "STATUS")
            for c in credentials {
                // "*": acts in every tenant; "-": acts in none (scope verify).
                let tenants = c.scope == .verify ? "-" : c.tenants.isEmpty ? "*" : c.tenants.joined(separator: ",")
                table.append(c.id, c.kindLabel, c.name, c.scopeLabel, tenants,
                             Timestamp.minutes(c.createdAtMs), c.statusLabel)
            }
            Output.line(table.rendered())
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a service credential (or, with --kind operator, an operator credential); its secret is shown once.")

        @Argument(help: "1 to 64 of a-z, 0-9, '-' and '_': the actor name in events.") var name: String
        @Option(help: "service or operator.") var kind: KindArgument = .service
        @Option(help: "Service credentials: verify (Verify only) or act (acts for users).") var scope: ScopeArgument?
        @Option(help: ArgumentHelp("With --scope act: the only tenants it may act in, comma-separated (default: every tenant).", valueName: "tenant,..."))
        var tenants: String?
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws {
            _ = try global.credential(for: .operator)
            switch kind {
            case .service:
                guard let scope else { throw ValidationError("a service credential needs --scope verify or --scope act") }
                if tenants != nil, scope != .act { throw ValidationError("--tenants goes with --scope act") }
            case .operator:
                if scope != nil || tenants != nil { throw ValidationError("an operator credential has no --scope or --tenants") }
            }
        }

        func run() async throws {
            let issued: (secret: String, credential: APIKeysV1.CredentialInfo?)
            switch kind {
            case .service:
                let request = APIKeysV1.CreateServiceCredentialRequest(
                    name: name, scope: scope == .verify ? .verify : .act,
                    tenants: tenants.map { $0.split(separator: ",").map(String.init) } ?? [])
                let reply = try await global.withClient(.operator) { try await $0.createServiceCredential(request) }
                issued = (reply.secret, reply.credential)
            case .operator:
                let reply = try await global.withClient(.operator) {
                    try await $0.createOperatorCredential(APIKeysV1.CreateOperatorCredentialRequest(name: name))
                }
                issued = (reply.secret, reply.credential)
            }
            CredentialsCommand.showSecret(issued.secret, of: issued.credential, json: global.json, saying: "Created")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A new secret for a credential's name and scope; the old one works until you revoke it.")

        @Argument(help: "The credential's ID (svc_... or opr_...).") var credentialID: String
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .operator) }

        func run() async throws {
            let reply = try await global.withClient(.operator) {
                try await $0.rotateCredential(APIKeysV1.RotateCredentialRequest(credentialID: credentialID))
            }
            CredentialsCommand.showSecret(reply.secret, of: reply.credential, json: global.json, saying: "Rotated \(reply.replacesID) into")
            if !global.json {
                Output.line("\(reply.replacesID) keeps working until you revoke it, once the new secret is deployed:")
                Output.line("  apikeys credentials revoke \(reply.replacesID)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a credential: it never authenticates again, from the next call on.")

        @Argument(help: "The credential's ID (svc_... or opr_...).") var credentialID: String
        @Flag(name: .shortAndLong, help: "Do not ask for confirmation (needed when stdin is not a terminal).") var yes = false
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .operator) }

        func run() async throws {
            try Confirmation.confirm("revoke credential \(credentialID)", yes: yes)
            let reply = try await global.withClient(.operator) {
                try await $0.revokeCredential(APIKeysV1.RevokeCredentialRequest(credentialID: credentialID))
            }
            let credential = reply.credential ?? APIKeysV1.CredentialInfo(id: credentialID)
            if global.json {
                Output.json(credential.jsonValue)
            } else {
                Output.line("Revoked \(credential.kindLabel) credential \(credential.id) (\(credential.name)).")
            }
        }
    }

    static func showSecret(_ secret: String, of credential: APIKeysV1.CredentialInfo?, json: Bool, saying verb: String) {
        let credential = credential ?? APIKeysV1.CredentialInfo()
        if json {
            Output.json(credential.jsonValue(adding: [("secret", .string(secret))]))
            return
        }
        let tenants = credential.tenants.isEmpty ? "" : " in \(credential.tenants.joined(separator: ","))"
        let scope = credential.kind == .service ? ", scope \(credential.scopeLabel)\(tenants)" : ""
        Output.line("\(verb) \(credential.kindLabel) credential \(credential.id) (\(credential.name)\(scope)). Its secret:")
        Output.line()
        Output.line("  \(secret)")
        Output.line()
        Output.line("Copy it now: it will not be shown again.")
    }

    enum KindArgument: String, ExpressibleByArgument, CaseIterable {
        case service, `operator`
    }

    enum ScopeArgument: String, ExpressibleByArgument, CaseIterable {
        case verify, act
    }
}

extension APIKeysV1.CredentialInfo {
    var kindLabel: String { kind == .service ? "service" : "operator" }
    var scopeLabel: String { scope == .verify ? "verify" : "act" }
    var statusLabel: String { revokedAtMs != 0 ? "revoked" : configured ? "configured" : "active" }

    var jsonValue: JSON { jsonValue(adding: []) }

    func jsonValue(adding extra: [(String, JSON)]) -> JSON {
        var object: JSONObject = [:]
        object.pairs = [
            ("id", JSON.string(id)), ("kind", JSON.string(kindLabel)), ("name", JSON.string(name)),
            ("scope", JSON.string(scopeLabel)), ("tenants", JSON.array(tenants.map(JSON.string))),
            ("createdAt", JSON.time(createdAtMs)), ("revokedAt", JSON.time(revokedAtMs)), ("configured", JSON.bool(configured)),
        ] + extra
        return .object(object)
    }
}
