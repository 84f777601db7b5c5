import CallboardServices
import Foundation
import HTTPTypes
import Hummingbird

/// `/api/v1/staff` and `/api/v1/tokens`: admin-only account and token management.
struct StaffController {
    let staff: StaffService

    func register(_ r: CatalogedRoutes) {
        r.on(.post, "/staff") { request, context in
            var request = request
            let body = try await request.requiredJSONBody(context: context)
            let s = try await staff.createStaff(body, by: try context.caller())
            return JSONOutput.response(JSONOutput.staff(s), status: .created)
        }
        r.on(.get, "/staff") { _, context in
            let list = try await staff.listStaff(by: try context.caller())
            return JSONOutput.response(.object(["items": .array(list.map(JSONOutput.staff))]))
        }
        r.on(.post, "/staff/:id/disable") { _, context in
            let s = try await staff.disableStaff(try context.parameters.uuid("id", what: "staff member"), by: try context.caller())
            return JSONOutput.response(JSONOutput.staff(s))
        }
        r.on(.post, "/tokens") { request, context in
            var request = request
            let body = try await request.requiredJSONBody(context: context)
            let (token, record) = try await staff.createToken(body, by: try context.caller())
            guard case .object(var o) = JSONOutput.token(record) else { fatalError("token JSON is an object") }
            // The only time the token is ever shown.
            o["token"] = .string(token)
            return JSONOutput.response(.object(o), status: .created, headers: [.cacheControl: "no-store"])
        }
        r.on(.get, "/tokens") { _, context in
            let list = try await staff.listTokens(by: try context.caller())
            return JSONOutput.response(.object(["items": .array(list.map(JSONOutput.token))]))
        }
        r.on(.post, "/tokens/:id/revoke") { _, context in
            let t = try await staff.revokeToken(try context.parameters.uuid("id", what: "token"), by: try context.caller())
            return JSONOutput.response(JSONOutput.token(t))
        }
    }
}
