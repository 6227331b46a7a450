import ArgumentParser
import Foundation

/// The config file of named contexts: where a server is and how to reach it, so that
/// `apikeys --context prod keys list` needs nothing else on the command line.
///
/// ```json
/// {
///   "current-context": "local",
///   "contexts": {
///     "local": { "server": "127.0.0.1:7420", "operator-credential-file": "local-operator" },
///     "prod": {
///       "server": "apikeys.internal:7420",
///       "tls-ca": "/etc/apikeys/ca.pem",
///       "service-credential-file": "~/.config/apikeys/prod-console",
///       "timeout": 10
///     }
///   }
/// }
/// ```
///
/// A context's keys are the global options' names without `--`. JSON, because Foundation
/// reads it: no parser to add for a file of a dozen lines. Unknown keys are refused, so a
/// typo cannot silently mean "no TLS".
struct ContextFile {
    /// A context's settings; paths are already absolute.
    struct Context: Equatable {
        var name: String
        var server: String?
        var tls: Bool?
        var tlsCA: String?
        var tlsCertificate: String?
        var tlsPrivateKey: String?
        var tlsServerName: String?
        var operatorCredentialFile: String?
        var serviceCredentialFile: String?
        var apiKeyFile: String?
        var tenant: String?
        var user: String?
        var timeout: Double?
    }

    var path: String
    var currentContext: String?
    var contexts: [String: Context]

    // Computed: key paths are not Sendable, so they cannot be stored in a static.
    static var stringKeys: [String: WritableKeyPath<Context, String?>] {[
        "server": \.server, "tenant": \.tenant, "user": \.user, "tls-server-name": \.tlsServerName,
    ]}
    static var pathKeys: [String: WritableKeyPath<Context, String?>] {[
        "tls-ca": \.tlsCA, "tls-certificate": \.tlsCertificate, "tls-private-key": \.tlsPrivateKey,
        "operator-credential-file": \.operatorCredentialFile,
        "service-credential-file": \.serviceCredentialFile, "api-key-file": \.apiKeyFile,
    ]}
    static var allKeys: [String] { (Array(stringKeys.keys) + Array(pathKeys.keys) + ["tls", "timeout"]).sorted() }

    /// `$APIKEYS_CONFIG`, else `$XDG_CONFIG_HOME/apikeys/config.json`, else `~/.config/apikeys/config.json`.
    static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment["APIKEYS_CONFIG"], !path.isEmpty { return path }
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".config")
        return (base as NSString).appendingPathComponent("apikeys/config.json")
    }

    /// The file at `path`, or nil when there is none.
    static func load(_ path: String) throws -> ContextFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the config file \(path)")
        }
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ValidationError("the config file \(path) is not valid JSON")
        }
        guard let object = root as? [String: Any] else {
            throw ValidationError("the config file \(path) must hold a JSON object")
        }
        for key in object.keys where key != "current-context" && key != "contexts" {
            throw ValidationError("the config file \(path) has an unknown key '\(key)': use current-context and contexts")
        }
        var file = ContextFile(path: path, currentContext: nil, contexts: [:])
        if let current = object["current-context"] {
            guard let name = current as? String else {
                throw ValidationError("the config file \(path): current-context must be a string")
            }
            file.currentContext = name
        }
        guard let contexts = (object["contexts"] ?? [String: Any]()) as? [String: Any] else {
            throw ValidationError("the config file \(path): contexts must be an object of named contexts")
        }
        let directory = (path as NSString).deletingLastPathComponent
        for (name, value) in contexts {
            file.contexts[name] = try Self.context(name, value, in: path, relativeTo: directory)
        }
        return file
    }

    private static func context(_ name: String, _ value: Any, in path: String, relativeTo directory: String) throws -> Context {
        guard let settings = value as? [String: Any] else {
            throw ValidationError("the config file \(path): context '\(name)' must be an object")
        }
        var context = Context(name: name)
        for (key, value) in settings {
            let what = "the config file \(path), context '\(name)'"
            if let keyPath = stringKeys[key] ?? pathKeys[key] {
                guard let text = value as? String, !text.isEmpty else {
                    throw ValidationError("\(what): \(key) must be a non-empty string")
                }
                context[keyPath: keyPath] = pathKeys[key] != nil ? resolve(text, relativeTo: directory) : text
            } else if key == "tls" {
                guard let flag = value as? Bool else { throw ValidationError("\(what): tls must be true or false") }
                context.tls = flag
            } else if key == "timeout" {
                // JSONSerialization reads true as a number too; a timeout of `true` is a mistake.
                guard let number = value as? NSNumber, !(value is Bool) else {
                    throw ValidationError("\(what): timeout must be a number of seconds")
                }
                context.timeout = number.doubleValue
            } else {
                throw ValidationError("\(what) has an unknown key '\(key)'; known keys: \(allKeys.joined(separator: ", "))")
            }
        }
        return context
    }

    /// `~/x` is under the home directory; a relative path is relative to the config file.
    static func resolve(_ path: String, relativeTo directory: String) -> String {
        if path == "~" { return NSHomeDirectory() }
        if path.hasPrefix("~/") { return (NSHomeDirectory() as NSString).appendingPathComponent(String(path.dropFirst(2))) }
        if path.hasPrefix("/") { return path }
        return (directory as NSString).appendingPathComponent(path)
    }

    /// The context named by --context or APIKEYS_CONTEXT, else the file's current-context;
    /// nil when none is named anywhere.
    func selected(_ name: String?) throws -> Context? {
        guard let name = name ?? currentContext else { return nil }
        guard let context = contexts[name] else {
            let known = contexts.keys.sorted()
            throw ValidationError("no context '\(name)' in \(path)" +
                (known.isEmpty ? "" : "; it has: \(known.joined(separator: ", "))"))
        }
        return context
    }
}
