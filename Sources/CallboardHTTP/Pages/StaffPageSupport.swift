import CallboardDomain
import CallboardServices
import Foundation
import Hummingbird

extension Dictionary where Key == String, Value == Any {
    /// Sets `key` only when there is a value (a context holds no optionals).
    mutating func put(_ key: String, _ value: Any?) {
        if let value { self[key] = value }
    }
}

/// What the back-office pages share: CSRF checks, ids from the path, refusals shown on the page.
extension StaffPages {
    /// Whether a posted form carries the session's CSRF token (compared in constant time).
    func csrfMatches(_ form: [String: String], _ csrf: String) -> Bool {
        StaffService.constantTimeEquals(Array((form["csrf"] ?? "").utf8), Array(csrf.utf8))
    }

    /// A path parameter as a UUID; nil (answered 404) for anything else.
    func uuid(_ context: AppContext, _ name: String) -> UUID? {
        context.parameters.get(name).flatMap(UUID.init(uuidString:))
    }

    /// Runs a change and hands back its refusal (validation, conflict, stale) for the page to show.
    /// Forbidden and not-found go on to `signedIn`, which answers them with its 403 and 404 pages.
    func attempt(_ body: () async throws -> Void) async throws -> ServiceError? {
        do {
            try await body()
            return nil
        } catch let e as ServiceError {
            switch e {
            case .forbidden, .notFound: throw e
            default: return e
            }
        }
    }

    /// A form value, trimmed, without control characters (a NUL would make PostgreSQL refuse the
    /// statement: such a value matches nothing rather than failing).
    static func text(_ value: String?) -> String {
        String(String.UnicodeScalarView((value ?? "").unicodeScalars.filter { $0.properties.generalCategory != .control }))
            .trimmingCharacters(in: .whitespaces)
    }

    /// `path?k=v&…`, each part percent-encoded.
    static func link(_ path: String, _ query: [(String, String)]) -> String {
        func enc(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
        return query.isEmpty ? path : path + "?" + query.map { "\(enc($0.0))=\(enc($0.1))" }.joined(separator: "&")
    }

    /// The error summary's context: `errors` (field id, message) and `has_errors`.
    static func summary(_ errors: [(field: String, message: String)]) -> [String: Any] {
        ["has_errors": !errors.isEmpty, "errors": errors.map { ["field": $0.field, "message": $0.message] }]
    }

    /// A refusal as error summary entries, each linking to `field`.
    static func summary(_ e: ServiceError, field: String = "main-content") -> [(field: String, message: String)] {
        messages(e).map { (field, $0.capitalizedFirst) }
    }
}
