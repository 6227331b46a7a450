import ArgumentParser
import Foundation

/// Where a secret comes from, found without reading it: a command reads only the secret it
/// uses, so a context's missing key file does not break a command that acts as the operator.
struct SecretSource {
    enum Origin {
        case argument(String)
        case file(path: String, what: String)
        case environment(String)
    }

    var origin: Origin
    /// 0 the command line, 1 the environment, 2 the context: the lower wins.
    var level: Int

    /// The secret's flag, else its `-file` flag, else its variable, else the context's file.
    static func first(_ value: String?, _ file: String?, flag: String, variable: String, context: String?) -> SecretSource? {
        if let value, !value.isEmpty { return SecretSource(origin: .argument(value), level: 0) }
        if let file, !file.isEmpty { return SecretSource(origin: .file(path: file, what: "--\(flag)-file"), level: 0) }
        if let value = environment(variable) { return SecretSource(origin: .environment(value), level: 1) }
        if let context { return SecretSource(origin: .file(path: context, what: "the context's \(flag)-file"), level: 2) }
        return nil
    }

    func read() throws -> String {
        switch origin {
        case .argument(let secret), .environment(let secret):
            return secret
        case .file(let path, let what):
            return try Self.read(path, what: what)
        }
    }

    /// The one line of a secret file that is neither blank nor a `#` comment, trimmed: the
    /// format apikeysd reads for --operator-credential-file. Errors never show the content.
    static func read(_ path: String, what: String) throws -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read it" : "no such file"
            throw ValidationError("\(what) \(path): \(reason)")
        }
        return try secret(in: text, what: "\(what) \(path)")
    }

    static func secret(in text: String, what: String) throws -> String {
        let lines = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard lines.count == 1, let secret = lines.first else {
            throw ValidationError("\(what): expected the secret alone on one line, found \(lines.count) lines")
        }
        return secret
    }
}
