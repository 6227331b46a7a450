import APIKeysWire
import Foundation

/// A failed call, printed as `error: <STATUS_NAME>: <message> [rule R17, reason no_license]`
/// on stderr (and, with --json, as an object on stdout so scripts can read the reason).
struct CLIFailure: Error {
    var code: String
    var message: String
    var rule: String?
    var reason: String?
    var json = false

    init(code: String, message: String, rule: String? = nil, reason: String? = nil, json: Bool = false) {
        self.code = code
        self.message = message
        self.rule = rule
        self.reason = reason
        self.json = json
    }

    init(_ error: RPCError, json: Bool = false) {
        let details = error.errorDetails
        self.init(code: error.code.description, message: error.message,
                  rule: details.flatMap { $0.rule.isEmpty ? nil : $0.rule },
                  reason: details.flatMap { $0.reason.isEmpty ? nil : $0.reason },
                  json: json)
    }

    var line: String {
        var line = "error: \(code): \(message)"
        var extra: [String] = []
        if let rule { extra.append("rule \(rule)") }
        if let reason { extra.append("reason \(reason)") }
        if !extra.isEmpty { line += " [\(extra.joined(separator: ", "))]" }
        return line
    }

    func report() {
        if json {
            Output.json(.object([
                "error": .object([
                    "code": .string(code), "message": .string(message),
                    "rule": rule.map(JSON.string) ?? .null, "reason": reason.map(JSON.string) ?? .null,
                ]),
            ]))
        }
        Output.error(line)
    }
}
