import CallboardDomain
import CallboardStorage
import Hummingbird
import HummingbirdCore

/// Reads a list endpoint's query string: unknown parameters, NUL characters, enum values, `limit`
/// and `cursor` are checked the same way everywhere, and every problem is reported at once.
struct QueryReader {
    let parameters: Parameters
    private let form: FormQuery
    var errors = ErrorCollector()

    init(_ uri: URI, allowed: [String]) {
        parameters = uri.queryParameters
        form = FormQuery(uri)
        let known = Set(allowed + ["limit", "cursor"])
        for (key, value) in parameters {
            if !known.contains(String(key)) {
                errors.add("/query/\(key)", "is not a parameter here; parameters are: " + known.sorted().joined(separator: ", "))
            } else if value.unicodeScalars.contains("\u{0}") {
                errors.add("/query/\(key)", "must not contain the NUL character")
            }
        }
    }

    /// A value, when present and free of NUL characters.
    func string(_ key: String) -> String? {
        guard let v = parameters.get(key), !v.unicodeScalars.contains("\u{0}") else { return nil }
        return v
    }

    /// Free text, read as a form sends it: `+` for a space, `%2B` for a plus.
    func text(_ key: String) -> String? {
        guard string(key) != nil, let v = form.get(key), !v.unicodeScalars.contains("\u{0}") else { return nil }
        return v
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) -> T? where T.RawValue == String {
        guard let s = string(key) else { return nil }
        guard let v = T(rawValue: s) else {
            errors.add("/query/\(key)", Self.oneOf(T.self))
            return nil
        }
        return v
    }

    /// A comma-separated list of one enum's values.
    mutating func choices<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) -> [T] where T.RawValue == String {
        guard let s = string(key) else { return [] }
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { T(rawValue: String($0)) }
        if parts.isEmpty || parts.contains(where: { $0 == nil }) { errors.add("/query/\(key)", Self.oneOf(T.self)) }
        return parts.compactMap { $0 }
    }

    mutating func limit(default value: Int = 50, max: Int = 200) -> Int {
        guard let s = string("limit") else { return value }
        guard let n = Int(s), (1...max).contains(n) else {
            errors.add("/query/limit", "must be a whole number from 1 to \(max)")
            return value
        }
        return n
    }

    /// The cursor, decoded by `decode`; an unreadable one is an error.
    mutating func cursor<C>(_ decode: (String) -> C?) -> C? {
        guard let s = string("cursor") else { return nil }
        guard let c = decode(s) else {
            errors.add("/query/cursor", "is not a cursor this API gave")
            return nil
        }
        return c
    }

    /// Throws the 422 problem listing every error found.
    func finish() throws {
        if !errors.isEmpty { throw Problem.invalid(errors.errors) }
    }

    static func oneOf<T: RawRepresentable & CaseIterable>(_ type: T.Type) -> String where T.RawValue == String {
        "must be one of: " + T.allCases.map(\.rawValue).joined(separator: ", ")
    }
}
