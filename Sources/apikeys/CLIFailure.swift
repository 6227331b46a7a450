import APIKeysWire

/// A failed command, printed as `error: <CODE>: <message> [rule R17, reason no_license]`
/// on stderr, or with --json as one object on stdout and nothing on stderr.
struct CLIFailure: Error {
    /// A status name (`PERMISSION_DENIED`), or `USAGE` / `CANCELLED` for the tool's own.
    var code: String
    var message: String
    var rule: String?
    var reason: String?
    var exitStatus: Int32

    init(code: String, message: String, rule: String? = nil, reason: String? = nil, exitStatus: Int32) {
        self.code = code
        self.message = message
        self.rule = rule
        self.reason = reason
        self.exitStatus = exitStatus
    }

    init(_ error: RPCError) {
        let details = error.errorDetails
        self.init(code: error.code.description, message: error.message,
                  rule: details.flatMap { $0.rule.isEmpty ? nil : $0.rule },
                  reason: details.flatMap { $0.reason.isEmpty ? nil : $0.reason },
                  exitStatus: ExitStatus.of(error.code))
    }

    static let ownCodes: Set<String> = ["USAGE", "CANCELLED"]

    static func usage(_ message: String) -> CLIFailure {
        CLIFailure(code: "USAGE", message: message, exitStatus: ExitStatus.usage)
    }

    var line: String {
        // The tool's own failures carry no status name: it would only repeat the message.
        var line = Self.ownCodes.contains(code) ? "error: \(message)" : "error: \(code): \(message)"
        var extra: [String] = []
        if let rule { extra.append("rule \(rule)") }
        if let reason { extra.append("reason \(reason)") }
        if !extra.isEmpty { line += " [\(extra.joined(separator: ", "))]" }
        return line
    }

    var json: JSON {
        .object([
            "error": .object([
                "code": .string(code), "message": .string(message),
                "rule": rule.map(JSON.string) ?? .null, "reason": reason.map(JSON.string) ?? .null,
                "exitCode": .int(Int64(exitStatus)),
            ]),
        ])
    }

    func report(json: Bool) {
        if json {
            Output.json(self.json)
        } else {
            Output.error(line)
        }
    }
}
