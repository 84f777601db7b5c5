import Foundation
import HummingbirdCore

/// A query string read as an HTML form sends it (application/x-www-form-urlencoded): `+` is a
/// space and `%2B` a plus. Hummingbird's `queryParameters` follow RFC 3986, where `+` stays `+`,
/// which turned a GET form's "Valuation+Office+Agency" into a search nobody asked for.
struct FormQuery: Sendable {
    private var values: [String: String] = [:]
    /// Every key and its first value, in the order given (for links that carry the query along).
    private(set) var pairs: [(key: String, value: String)] = []

    init(_ uri: URI) {
        guard let query = uri.query else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = Self.decode(parts[0]), values[key] == nil else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) ?? "" : ""
            values[key] = value
            pairs.append((key, value))
        }
    }

    /// The first value given for `key`.
    func get(_ key: String) -> String? { values[key] }

    private static func decode(_ s: Substring) -> String? {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
