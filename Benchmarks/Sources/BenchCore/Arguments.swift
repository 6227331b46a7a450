/// `--name value` options, with no dependency on an argument parser (keeps builds lean).
public struct Arguments {
    private var values: [String: String] = [:]
    public let positional: [String]

    public init(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) {
        var positional: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a.hasPrefix("--") {
                let name = String(a.dropFirst(2))
                if i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") {
                    values[name] = arguments[i + 1]
                    i += 2
                } else {
                    values[name] = "true"
                    i += 1
                }
            } else {
                positional.append(a)
                i += 1
            }
        }
        self.positional = positional
    }

    public func string(_ name: String, _ fallback: String) -> String { values[name] ?? fallback }
    public func optionalString(_ name: String) -> String? { values[name] }
    public func int(_ name: String, _ fallback: Int) -> Int {
        guard let v = values[name] else { return fallback }
        guard let i = Int(v) else { fail("--\(name) wants an integer, got \(v)") }
        return i
    }
    public func double(_ name: String, _ fallback: Double) -> Double {
        guard let v = values[name] else { return fallback }
        guard let d = Double(v) else { fail("--\(name) wants a number, got \(v)") }
        return d
    }
    public func flag(_ name: String) -> Bool { values[name] == "true" }
}
