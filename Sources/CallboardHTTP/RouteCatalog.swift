import HTTPTypes
import Hummingbird
import Synchronization

/// Every route the application registers, in OpenAPI form (`/requests/{id}`), so a test can
/// hold the OpenAPI document and the router to each other.
public final class RouteCatalog: Sendable {
    private let entries = Mutex<[String]>([])

    public init() {}

    /// "METHOD /path" strings, sorted.
    public var routes: [String] { entries.withLock { $0.sorted() } }

    /// The methods registered for a concrete path (`/api/v1/requests/6f…` matches `/api/v1/requests/{id}`).
    public func methods(for path: String) -> [String] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return Set(
            routes.compactMap { route -> String? in
                let pieces = route.split(separator: " ", maxSplits: 1)
                guard pieces.count == 2 else { return nil }
                let template = pieces[1].split(separator: "/", omittingEmptySubsequences: true)
                guard template.count == parts.count,
                    zip(template, parts).allSatisfy({ t, p in t.hasPrefix("{") || t == p })
                else { return nil }
                return String(pieces[0])
            }
        ).sorted()
    }

    func record(_ method: HTTPRequest.Method, _ path: String) {
        let openAPIPath = path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
        entries.withLock { $0.append("\(method.rawValue) /\(openAPIPath)") }
    }
}

/// Registers a handler and records it in the catalog in one step, so the two cannot drift.
struct CatalogedRoutes {
    let group: RouterGroup<AppContext>
    let prefix: String
    let catalog: RouteCatalog

    func on(
        _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, AppContext) async throws -> Response
    ) {
        catalog.record(method, prefix + path)
        group.on(RouterPath(path), method: method, use: handler)
    }
}
