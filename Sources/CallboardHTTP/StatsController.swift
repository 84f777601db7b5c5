import CallboardDomain
import CallboardServices
import Foundation
import Hummingbird

/// `GET /api/v1/stats`: the team's figures as JSON, the same numbers the performance page draws.
struct StatsController {
    let stats: StatsService

    func register(_ r: CatalogedRoutes) {
        r.on(.get, "/stats") { request, context in
            let caller = try context.caller()
            var q = QueryReader(request.uri, allowed: StatsQuery.parameters)
            let parsed = StatsQuery.parse({ q.text($0) }, today: stats.today)
            // Unknown parameters and bad values are reported together.
            if case .failure(.validation(let errors)) = parsed {
                for e in errors { q.errors.add(e.pointer, e.message) }
            }
            try q.finish()
            return try Self.response(try await stats.figures(try parsed.get(), by: caller))
        }
    }

    static func encode(_ figures: TeamFigures) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(figures)
    }

    static func response(_ figures: TeamFigures) throws -> Response {
        var h = HTTPFields()
        h[.contentType] = "application/json"
        return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: try encode(figures))))
    }
}
