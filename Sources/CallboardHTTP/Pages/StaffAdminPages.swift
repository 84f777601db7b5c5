import CallboardDomain
import CallboardServices
import Foundation
import HTTPTypes
import Hummingbird

/// `/staff/emails…` and `/staff/admin…`: the email outbox, and staff and API tokens (admin only).
extension StaffPages {
    func registerAdmin(_ r: PageRoutes) {}
}
