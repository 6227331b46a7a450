import Foundation

/// Where a ``PostgresKeyStore`` connects: parsed from
/// `postgres://user[:password]@host[:port]/database[?schema=NAME&sslmode=disable|require]`.
///
/// The password is kept apart from everything that is printed: ``description`` and every
/// error name host, port, database and schema only.
struct PostgresLocation: Sendable, CustomStringConvertible {
    var user: String
    var password: String?
    var host: String
    var port: Int
    var database: String
    var schema: String
    var requireTLS: Bool

    static let allowedForm =
        "postgres://user[:password]@host[:port]/database[?schema=NAME&sslmode=disable|require] (or postgresql://; the password may come from PGPASSWORD)"

    /// host:port/database (schema): what messages and logs name.
    var description: String { "\(host):\(port)/\(database) (schema \(schema))" }
    var address: String { "\(host):\(port)" }

    init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func invalid(_ what: String) -> PostgresStoreError {
            .configuration("invalid PostgreSQL URL: \(what); expected \(Self.allowedForm)")
        }
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            throw invalid("it must start with postgres:// or postgresql://")
        }
        // Foundation's URLComponents would put the password in its own descriptions; only the
        // parsed parts are kept.
        guard let components = URLComponents(string: url) else { throw invalid("it is not a URL") }
        guard let user = components.user, !user.isEmpty else { throw invalid("it names no user") }
        guard let host = components.host, !host.isEmpty else { throw invalid("it names no host") }
        let port = components.port ?? 5432
        guard (1...65_535).contains(port) else { throw invalid("the port is out of range") }
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        guard !database.isEmpty, !database.contains("/") else { throw invalid("it names no database") }
        var schema = "public"
        var requireTLS = false
        for item in components.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("schema", let value):
                guard Self.isPlainName(value) else {
                    throw invalid("schema must be 1 to 63 letters, digits or _, starting with a letter or _")
                }
                schema = value
            case ("sslmode", "disable"): requireTLS = false
            case ("sslmode", "require"): requireTLS = true
            case ("sslmode", _): throw invalid("sslmode must be disable or require")
            case (let name, _): throw invalid("unknown parameter \"\(name)\" (allowed: schema, sslmode)")
            }
        }
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 } ?? environment["PGPASSWORD"]
        self.host = host
        self.port = port
        self.database = database.removingPercentEncoding ?? database
        self.schema = schema
        self.requireTLS = requireTLS
    }

    /// A schema name that needs no quoting rules beyond double quotes: the store puts it in
    /// SQL text (search_path, CREATE SCHEMA, NOTIFY payloads).
    static func isPlainName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 63 else { return false }
        let allowed = { (s: Unicode.Scalar) in s.isASCII && (s == "_" || s.properties.isAlphabetic || ("0"..."9").contains(s)) }
        return (first == "_" || (first.isASCII && first.properties.isAlphabetic)) && name.unicodeScalars.allSatisfy(allowed)
    }
}
