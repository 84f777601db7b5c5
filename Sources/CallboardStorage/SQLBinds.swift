import PostgresNIO

/// Builds a statement whose placeholders are numbered as values are bound: `"x = \(b.add(v))"`.
/// For statements assembled from parts (multi-row VALUES, optional CTEs) where string interpolation
/// into `PostgresQuery` cannot be used.
struct SQLBinds {
    var bindings = PostgresBindings()
    /// The positions bound NULL, for `NamedStatement`'s name.
    var nulls = ""

    mutating func add(_ v: some PostgresNonThrowingEncodable) -> String {
        bindings.append(v)
        return "$\(bindings.count)"
    }

    mutating func add(_ v: (some PostgresNonThrowingEncodable)?) -> String {
        bindings.append(v)
        if v == nil { nulls += "\(bindings.count)," }
        return "$\(bindings.count)"
    }

    func query(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }

    /// The statement as a named prepared statement (see `NamedStatement`).
    func statement(_ sql: String) -> NamedStatement { NamedStatement(query(sql), nulls: nulls) }
}
