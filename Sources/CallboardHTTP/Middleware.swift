import CallboardDomain
import CallboardServices
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import PostgresNIO

/// Turns every error into a problem+json response: known errors keep their meaning, anything
/// unexpected becomes a 500 whose details go to the log only.
/// A path the API has, asked with a method it does not take: 405 with `Allow`, not 404.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let catalog: RouteCatalog

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as HTTPError where e.status == .notFound {
            let allowed = catalog.methods(for: request.uri.path)
            guard !allowed.isEmpty else { throw e }
            var p = Problem(
                .methodNotAllowed, type: "method-not-allowed", title: "Method not allowed",
                detail: "\(request.uri.path) accepts \(allowed.joined(separator: ", "))")
            p.headers[.allow] = allowed.joined(separator: ", ")
            throw p
        }
    }
}

struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AppContext

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return try Self.problem(for: error, logger: context.logger).response(from: request, context: context)
        }
    }

    static func problem(for error: any Error, logger: Logger) -> Problem {
        switch error {
        case let p as Problem: return p
        case let e as ServiceError: return Problem.from(e)
        case is NIOTooManyBytesError:
            return Problem(.contentTooLarge, type: "body-too-large", title: "Body too large", detail: "Bodies are limited to 1 MB")
        case let e as HTTPError:
            switch e.status {
            case .notFound: return Problem(.notFound, type: "not-found", title: "Not found", detail: "No such resource")
            case .contentTooLarge:
                return Problem(.contentTooLarge, type: "body-too-large", title: "Body too large", detail: "Bodies are limited to 1 MB")
            case .methodNotAllowed:
                return Problem(
                    .methodNotAllowed, type: "method-not-allowed", title: "Method not allowed", detail: "This resource does not accept that method")
            default:
                return Problem(e.status, type: "http-\(e.status.code)", title: e.status.reasonPhrase, detail: e.body ?? e.status.reasonPhrase)
            }
        default:
            logger.error("unhandled error", metadata: ["error": .string(String(reflecting: error))])
            return Problem(
                .internalServerError, type: "internal", title: "Something went wrong",
                detail: "The error was logged; quote the X-Request-Id header when reporting it")
        }
    }
}

/// Resolves `Authorization: Bearer …` to a staff principal. The token is never logged.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let staff: StaffService

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        guard request.headers[.authorization] != nil else {
            throw Problem.unauthorized("Send Authorization: Bearer <token>")
        }
        guard let bearer = request.bearerToken, let principal = try await staff.authenticate(bearer: bearer) else {
            throw Problem.unauthorized("The token is unknown, expired or revoked")
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "staff_id"] = .string(principal.actorID ?? "")
        return try await next(request, context)
    }
}
