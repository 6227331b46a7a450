import ArgumentParser

/// `apikeys contexts`: the contexts of the config file, and which one is in use.
struct ContextsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contexts",
        abstract: "List the named contexts of the config file (needs no server).",
        discussion: """
            The config file is $APIKEYS_CONFIG, else $XDG_CONFIG_HOME/apikeys/config.json,
            else ~/.config/apikeys/config.json: a JSON object with "current-context" and
            "contexts", each context holding global options without their "--" (server, tls,
            tls-ca, tls-certificate, tls-private-key, tls-server-name, operator-credential-file,
            service-credential-file, api-key-file, tenant, user, timeout). Flags and APIKEYS_*
            variables override the context; --context NAME or APIKEYS_CONTEXT picks another.
            """)

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func run() async throws {
        let path = ContextFile.defaultPath()
        let file = try ContextFile.load(path)
        let inUse = try global.context()?.name
        let contexts = (file.map { Array($0.contexts.values) } ?? []).sorted { $0.name < $1.name }
        if global.json {
            Output.json(.object([
                "file": .string(path), "current": inUse.map(JSON.string) ?? .null,
                "contexts": .array(contexts.map { context in
                    .object(["name": .string(context.name), "server": context.server.map(JSON.string) ?? .null,
                             "tls": .bool(context.tls == true || context.tlsCA != nil || context.tlsCertificate != nil)])
                }),
            ]))
            return
        }
        guard file != nil else {
            Output.line("No config file at \(path).")
            return
        }
        var table = Table("CURRENT", "NAME", "SERVER", "TLS")
        for context in contexts {
            let tls = context.tls == true || context.tlsCA != nil || context.tlsCertificate != nil
            table.append(context.name == inUse ? "*" : "", context.name,
                         context.server ?? GlobalOptions.defaultServer, tls ? "yes" : "no")
        }
        Output.line(contexts.isEmpty ? "No contexts in \(path)." : table.rendered())
    }
}
