import Foundation

/// Every apikeysd option from three more places than the command line, turned into
/// arguments before parsing, so one parser validates them all. Precedence: flags >
/// `APIKEYS_*` environment variables > the `--config` file > defaults.
///
/// The environment variable of `--max-frame-size` is `APIKEYS_MAX_FRAME_SIZE`, except where
/// the CLI already uses the name for something else (``variableNames``); a flag
/// (`--conformance`) is on with `1`, `true` or `yes`; a repeatable option
/// (`--tls-client-service`) takes its values separated by spaces.
///
/// The config file is a subset of TOML: `name = value` lines, names as the long flags
/// without dashes (`max-frame-size` or `max_frame_size`), strings in double quotes,
/// numbers and booleans bare, a repeatable option as an array of strings; `#` comments.
///
/// ```toml
/// host = "0.0.0.0"
/// port = 7420
/// data-dir = "/var/lib/apikeys"
/// log-format = "json"
/// tls-client-service = ["spiffe://example.org/gateway=gateway:verify"]
/// ```
/// Secrets never go here: the credential options take paths of files.
enum ConfigSources {
    enum Kind { case value, flag, repeated }

    /// The options that may come from the environment and the file (not `--config` itself,
    /// not the refused argv secrets, whose variables are the credentials themselves).
    static let options: [String: Kind] = [
        "host": .value, "port": .value, "data-dir": .value, "conformance": .flag,
        "max-frame-size": .value, "max-concurrent-calls": .value, "max-connections": .value,
        "max-unwritten-bytes": .value, "max-server-unwritten-bytes": .value,
        "handshake-timeout": .value, "idle-timeout": .value, "keepalive-interval": .value,
        "shutdown-grace-period": .value, "threads": .value, "log-level": .value, "log-format": .value,
        "access-log": .value, "http-host": .value, "http-port": .value,
        "service-credentials-file": .value, "operator-credential-file": .value, "operator-credential-out": .value,
        "usage-flush-interval": .value, "event-retention": .value, "tls-certificate": .value, "tls-private-key": .value,
        "tls-client-ca": .value, "tls-client-service": .repeated, "store": .value, "max-staleness": .value,
    ]

    /// Options that choose the same thing: one given at a higher precedence hides the other
    /// from lower ones (`--data-dir` on the command line wins over `APIKEYS_STORE`).
    static let alternatives = ["store": "data-dir", "data-dir": "store"]

    /// `APIKEYS_TLS_CERTIFICATE` and `APIKEYS_TLS_PRIVATE_KEY` are the `apikeys` CLI's client
    /// certificate: a shell set up for the CLI must not hand it to a server as its own.
    static let variableNames = [
        "tls-certificate": "APIKEYSD_TLS_CERTIFICATE",
        "tls-private-key": "APIKEYSD_TLS_PRIVATE_KEY",
    ]

    static func variable(for name: String) -> String {
        variableNames[name] ?? "APIKEYS_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `arguments` (without the program name) with what the environment and the config file
    /// add for options the command line does not give.
    static func merge(_ arguments: [String], environment: [String: String]) throws -> [String] {
        let given = Set(arguments.compactMap { argument -> String? in
            guard argument.hasPrefix("--") else { return nil }
            return String(argument.dropFirst(2).split(separator: "=", maxSplits: 1)[0])
        })
        var merged = arguments
        var taken = given
        for name in given { if let other = alternatives[name] { taken.insert(other) } }
        for name in options.keys.sorted() where !taken.contains(name) {
            let variable = variable(for: name)
            guard let value = environment[variable], !value.isEmpty else { continue }
            merged += try flagArguments(for: name, values: options[name] == .repeated
                                    ? value.split(separator: " ").map(String.init) : [value], from: variable)
            taken.insert(name)
            if let other = alternatives[name] { taken.insert(other) }
        }
        if let path = configPath(arguments) ?? environment["APIKEYS_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
            for (name, values, line) in try readFile(path) where !taken.contains(name) {
                merged += try flagArguments(for: name, values: values, from: "\(path):\(line)")
                taken.insert(name)
                if let other = alternatives[name] { taken.insert(other) }
            }
        }
        return merged
    }

    private static func configPath(_ arguments: [String]) -> String? {
        for (i, argument) in arguments.enumerated() {
            if argument == "--config", i + 1 < arguments.count { return arguments[i + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return nil
    }

    private static func flagArguments(for name: String, values: [String], from source: String) throws -> [String] {
        switch options[name] {
        case .flag:
            switch values.first?.lowercased() {
            case "1", "true", "yes", "on": return ["--\(name)"]
            case "0", "false", "no", "off": return []
            default: throw Failure(description: "\(source): --\(name) \(values.first ?? ""): allowed: true or false")
            }
        case .repeated:
            return values.flatMap { ["--\(name)", $0] }
        case .value:
            guard values.count == 1 else { throw Failure(description: "\(source): --\(name) takes one value") }
            return ["--\(name)=\(values[0])"]
        case nil:
            throw Failure(description: "\(source): unknown setting '\(name)'; allowed: \(options.keys.sorted().joined(separator: ", "))")
        }
    }

    /// The file's settings in order, with their line numbers.
    static func readFile(_ path: String) throws -> [(name: String, values: [String], line: Int)] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "--config \(path): cannot read the file (is the path right, and readable by this user?)")
        }
        var settings: [(String, [String], Int)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let at = "\(path):\(index + 1)"
            guard let equals = line.firstIndex(of: "=") else {
                throw Failure(description: "\(at): expected name = value")
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "-")
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard options[name] != nil else {
                throw Failure(description: "\(at): unknown setting '\(name)'; allowed: \(options.keys.sorted().joined(separator: ", "))")
            }
            settings.append((name, try parseValue(value, at: at), index + 1))
        }
        return settings
    }

    /// A TOML string, number, boolean or array of strings.
    private static func parseValue(_ text: String, at: String) throws -> [String] {
        var rest = Substring(text)
        func string() throws -> String {
            guard rest.first == "\"" else { throw Failure(description: "\(at): expected a string in double quotes") }
            rest = rest.dropFirst()
            var out = ""
            while let c = rest.first {
                rest = rest.dropFirst()
                if c == "\"" { return out }
                if c == "\\", let next = rest.first {
                    rest = rest.dropFirst()
                    switch next {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    default: out.append(next)
                    }
                } else {
                    out.append(c)
                }
            }
            throw Failure(description: "\(at): a string is not closed")
        }
        func trailing() throws {
            let left = rest.trimmingCharacters(in: .whitespaces)
            guard left.isEmpty || left.hasPrefix("#") else { throw Failure(description: "\(at): unexpected '\(left)'") }
        }
        if rest.first == "\"" {
            let value = try string()
            try trailing()
            return [value]
        }
        if rest.first == "[" {
            rest = rest.dropFirst()
            var values: [String] = []
            while true {
                rest = rest.drop { $0 == " " || $0 == "\t" }
                if rest.first == "]" { rest = rest.dropFirst(); break }
                values.append(try string())
                rest = rest.drop { $0 == " " || $0 == "\t" }
                if rest.first == "," { rest = rest.dropFirst(); continue }
                guard rest.first == "]" else { throw Failure(description: "\(at): expected , or ] in the array") }
            }
            try trailing()
            return values
        }
        // A bare number or boolean, up to a comment.
        let bare = rest.split(separator: "#", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard !bare.isEmpty, bare.allSatisfy({ $0.isNumber || $0.isLetter || $0 == "." || $0 == "-" || $0 == "_" }) else {
            throw Failure(description: "\(at): expected a string in double quotes, a number or true/false")
        }
        return [bare.replacingOccurrences(of: "_", with: "")]
    }
}
