/// `host:port` as given to --server; `[::1]:7420` for IPv6, and a bare host means port 7420.
struct ServerAddress: Equatable, Sendable, CustomStringConvertible {
    static let defaultPort = 7420

    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(_ text: String) {
        var host = Substring(text)
        var port = Self.defaultPort
        if host.hasPrefix("[") {
            // IPv6 literal: the port follows the closing bracket.
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let parsed = Int(rest.dropFirst()) else { return nil }
                port = parsed
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard host.firstIndex(of: ":") == colon, let parsed = Int(host[host.index(after: colon)...]) else { return nil }
            port = parsed
            host = host[..<colon]
        }
        guard !host.isEmpty, (1...65535).contains(port), !host.contains(where: \.isWhitespace) else { return nil }
        self.host = String(host)
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
