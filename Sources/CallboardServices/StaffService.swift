import CallboardDomain
import CallboardStorage
import Crypto
import Foundation
import Logging
import PostgresNIO

/// Staff accounts and their API tokens. A token is 256 random bits, shown once; only its
/// SHA-256 is stored, and the final comparison is constant-time.
public struct StaffService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger

    public init(db: PostgresClient, time: any TimeSource, logger: Logger) {
        self.db = db
        self.time = time
        self.logger = logger
    }

    /// Tokens carry a recognisable prefix so secret scanners and people can spot a leaked one.
    public static let tokenPrefix = "cb_"

    public func createStaff(_ body: JSONValue, by who: Principal) async throws -> StaffRecord {
        try who.require(.manageStaff)
        var errors = ErrorCollector()
        var email: String?
        var name: String?
        var role: StaffRole?
        if var r = ObjectReader(body, at: "", errors: &errors) {
            email = r.email("email", required: true)
            name = r.string("name", required: false, singleLine: true)
            role = r.choice("role", StaffRole.self, required: true)
            errors.add(contentsOf: r.finish())
        }
        try errors.throwIfAny()
        return try await createStaff(email: email!, name: name ?? "", role: role!)
    }

    /// Also used by `callboard admin create-staff`, which runs with no principal.
    public func createStaff(email: String, name: String, role: StaffRole) async throws -> StaffRecord {
        let record = StaffRecord(id: UUID(), email: email.lowercased(), name: name, role: role, createdAt: time.now())
        switch try await StaffStore.insert(record, on: db, logger: logger) {
        case .created(let s): return s
        case .emailTaken: throw ServiceError.conflict("a staff member with email \(email) already exists")
        }
    }

    public func listStaff(by who: Principal) async throws -> [StaffRecord] {
        try who.require(.manageStaff)
        return try await StaffStore.list(on: db, logger: logger)
    }

    public func disableStaff(_ id: UUID, by who: Principal) async throws -> StaffRecord {
        try who.require(.manageStaff)
        if id == who.staffID { throw ServiceError.conflict("you cannot disable your own account") }
        return try Self.outcome(try await StaffStore.disable(id: id, at: time.now(), on: db, logger: logger))
    }

    /// Gives a staff member another role; the last active admin keeps theirs.
    public func changeRole(_ id: UUID, role: StaffRole, by who: Principal) async throws -> StaffRecord {
        try who.require(.manageStaff)
        return try Self.outcome(try await StaffStore.changeRole(id: id, to: role, on: db, logger: logger))
    }

    static func outcome(_ o: StaffStore.ChangeOutcome) throws(ServiceError) -> StaffRecord {
        switch o {
        case .changed(let s): return s
        case .notFound: throw .notFound("staff member")
        case .lastAdmin: throw .conflict("this is the last active admin: make someone else an admin first")
        }
    }

    /// Body: `{"email": staff email, "name": label, "expires_at": RFC 3339 instant, or "expires_in_days": n}`.
    public func createToken(_ body: JSONValue, by who: Principal) async throws -> (token: String, record: TokenRecord) {
        try who.require(.manageTokens)
        var errors = ErrorCollector()
        var email: String?
        var name: String?
        var expires: Date?
        if var r = ObjectReader(body, at: "", errors: &errors) {
            email = r.email("email", required: true)
            name = r.string("name", required: false, singleLine: true)
            if let s = r.string("expires_at", required: false, maxLength: 40, singleLine: true) {
                if let d = Timestamp.parse(s) {
                    if d <= time.now() { r.errors.add("/expires_at", "must be in the future") } else { expires = d }
                } else {
                    r.errors.add("/expires_at", "must be an RFC 3339 instant, like 2027-01-31T17:00:00Z")
                }
            }
            if let raw = r.raw("expires_in_days"), raw != .null {
                if case .number(let n) = raw, n == n.rounded(), (1...3650).contains(n) {
                    if expires != nil { r.errors.add("/expires_in_days", "give expires_at or expires_in_days, not both") }
                    expires = time.now().addingTimeInterval(n * 86_400)
                } else {
                    r.errors.add("/expires_in_days", "must be a whole number of days from 1 to 3650")
                }
            }
            errors.add(contentsOf: r.finish())
        }
        try errors.throwIfAny()
        guard let staff = try await StaffStore.find(email: email!, on: db, logger: logger), staff.disabledAt == nil else {
            throw ServiceError.validation([FieldError(pointer: "/email", message: "is not an active staff member")])
        }
        return try await createToken(for: staff, name: name ?? "", expiresAt: expires)
    }

    public func createToken(for staff: StaffRecord, name: String, expiresAt: Date?) async throws -> (token: String, record: TokenRecord) {
        let token = Self.newToken()
        let record = try await TokenStore.insert(
            id: UUID(), staffID: staff.id, hash: Self.hash(token), name: name,
            createdAt: time.now(), expiresAt: expiresAt, on: db, logger: logger)
        return (token, record)
    }

    public func listTokens(by who: Principal) async throws -> [TokenRecord] {
        try who.require(.manageTokens)
        return try await TokenStore.list(staffID: nil, on: db, logger: logger)
    }

    public func revokeToken(_ id: UUID, by who: Principal) async throws -> TokenRecord {
        try who.require(.manageTokens)
        guard let t = try await TokenStore.revoke(id: id, at: time.now(), on: db, logger: logger) else { throw ServiceError.notFound("token") }
        return t
    }

    /// The staff principal for a bearer token, or nil when it is unknown, expired, revoked, or its account disabled.
    public func authenticate(bearer token: String) async throws -> Principal? {
        guard token.hasPrefix(Self.tokenPrefix), token.utf8.count < 200 else { return nil }
        let hash = Self.hash(token)
        guard let (staff, _, storedHash) = try await TokenStore.authenticate(hash: hash, at: time.now(), on: db, logger: logger),
            Self.constantTimeEquals(storedHash, hash)
        else { return nil }
        return Principal(actor: ActorKind(staff.role), staffID: staff.id, email: staff.email)
    }

    /// 256 random bits, base64url, after a prefix that says what the token is for.
    static func newToken(prefix: String = tokenPrefix) -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return prefix
            + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Data(token.utf8))) }

    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
