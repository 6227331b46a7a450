import PostgresNIO

/// Builds a statement whose text depends on the request (listings): each bound value
/// becomes the next `$n`, so values never enter the SQL text.
struct SQLBuilder {
    private(set) var binds = PostgresBindings()

    /// Binds `value` and returns its placeholder.
    mutating func bind<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value) throws -> String {
        try binds.append(value)
        return "$\(binds.count)"
    }

    /// Bind every value before calling this: `b.query("… \\(try b.bind(x))")` would read
    /// the binds before the interpolation adds to them.
    func query(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}
