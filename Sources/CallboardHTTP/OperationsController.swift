import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// Health, the workflow document and the OpenAPI document: routes that need no token. (`/metrics`
/// has its own listener: MetricsServer.swift.)
struct OperationsController {
    let db: PostgresClient
    let migrator: Migrator
    let logger: Logger
    let monitor: DatabaseMonitor?

    func registerPublic(_ r: CatalogedRoutes) {
        r.on(.get, "/health/live") { _, _ in
            JSONOutput.response(.object(["status": .string("ok")]))
        }
        r.on(.get, "/health/ready") { _, context in
            do {
                // A database that does not answer makes the instance unready now, not after the pool gives up.
                if let monitor, !monitor.isUp { throw DeadlineExceeded() }
                try await withDeadline(seconds: 2) { try await migrator.requireCurrent(db) }
                return JSONOutput.response(.object(["status": .string("ok"), "database": .string("ok"), "migrations": .string("current")]))
            } catch let e as MigrationError {
                return JSONOutput.response(
                    .object([
                        "status": .string("unavailable"), "database": .string("ok"),
                        "migrations": .string(e.description),
                    ]), status: .serviceUnavailable)
            } catch {
                context.logger.warning("readiness check failed", metadata: ["error": .string(String(describing: error))])
                return JSONOutput.response(
                    .object(["status": .string("unavailable"), "database": .string("unreachable")]),
                    status: .serviceUnavailable)
            }
        }
    }

    func registerAPI(_ r: CatalogedRoutes) {
        r.on(.get, "/workflow") { _, _ in JSONOutput.response(JSONOutput.workflow()) }
        r.on(.get, "/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
    }
}

/// The OpenAPI document shipped as a resource.
enum OpenAPIDocument {
    static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml", subdirectory: "Resources"),
            let data = try? Data(contentsOf: url)
        else { return Array("openapi: 3.1.0\n# document missing from the build\n".utf8) }
        return Array(data)
    }()
}
