import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import Testing

/// Roles change, but the last active admin stays one: neither a role change nor disabling
/// leaves Callboard with nobody who can manage staff.
@Suite struct StaffRoleTests {
    @Test func theLastActiveAdminKeepsTheRole() async throws {
        try await TestDatabase.with { db, _ in
            let service = StaffService(db: db, time: TestClock(), logger: TestDatabase.logger)
            let first = try await service.createStaff(email: "first@example.gov.uk", name: "First", role: .admin)
            let second = try await service.createStaff(email: "second@example.gov.uk", name: "Second", role: .triager)
            let me = Principal(actor: .admin, staffID: first.id, email: first.email)
            await #expect(throws: ServiceError.conflict("this is the last active admin: make someone else an admin first")) {
                _ = try await service.changeRole(first.id, role: .viewer, by: me)
            }
            // With a second admin, either may step down; then the other is the last.
            #expect(try await service.changeRole(second.id, role: .admin, by: me).role == .admin)
            #expect(try await service.changeRole(first.id, role: .triager, by: me).role == .triager)
            let other = Principal(actor: .admin, staffID: second.id, email: second.email)
            await #expect(throws: ServiceError.self) { _ = try await service.changeRole(second.id, role: .viewer, by: other) }
            guard case .lastAdmin = try await StaffStore.disable(id: second.id, at: Date(), on: db, logger: TestDatabase.logger) else {
                Issue.record("the last admin was disabled")
                return
            }
            await #expect(throws: ServiceError.forbidden(.manageStaff)) {
                _ = try await service.changeRole(first.id, role: .admin, by: Principal(actor: .triager, staffID: first.id))
            }
            await #expect(throws: ServiceError.notFound("staff member")) { _ = try await service.changeRole(UUID(), role: .viewer, by: other) }
        }
    }
}
