import ArgumentParser
import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import Logging

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bootstrap staff accounts and API tokens from the shell.",
        subcommands: [CreateStaff.self, CreateToken.self, RotateSecretKey.self])
}

extension StaffRole: ExpressibleByArgument {}

struct CreateStaff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create-staff", abstract: "Create a staff member.")
    @OptionGroup var database: DatabaseOptions
    @Option(name: .long, help: "Email address") var email: String
    @Option(name: .long, help: "Role: admin, triager or viewer") var role: StaffRole
    @Option(name: .long, help: "Display name") var name: String = ""

    func validate() throws {
        if let p = FieldRules.emailProblem(email) { throw ValidationError("--email \(p)") }
    }

    func run() async throws {
        let settings = try database.settings()
        let logger = Logs.bootstrap(settings)
        let (email, role, name) = (self.email, self.role, self.name)
        try await withDatabase(settings, logger: logger) { client in
            try await Migrator(migrations: try Migration.bundled(), logger: logger).requireCurrent(client)
            do {
                let s = try await StaffService(db: client, time: SystemTime(), logger: logger).createStaff(email: email, name: name, role: role)
                print("Created \(s.role.rawValue) \(s.email) (\(s.id.lowercasedString))")
            } catch ServiceError.conflict(let message) {
                throw ValidationError(message)
            }
        }
    }
}

struct CreateToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-token",
        abstract: "Create an API token for a staff member and print only the token.")
    @OptionGroup var database: DatabaseOptions
    @Option(name: .long, help: "Staff email") var email: String
    @Option(name: .long, help: "A label for the token") var name: String = "cli"
    @Option(name: .customLong("expires-in-days"), help: "Days until the token expires (default: never)") var days: Int?

    func run() async throws {
        let settings = try database.settings()
        let logger = Logs.bootstrap(settings)
        let (email, name, days) = (self.email, self.name, self.days)
        try await withDatabase(settings, logger: logger) { client in
            try await Migrator(migrations: try Migration.bundled(), logger: logger).requireCurrent(client)
            guard let staff = try await StaffStore.find(email: email, on: client, logger: logger), staff.disabledAt == nil else {
                throw ValidationError("No active staff member with email \(email); create one with `callboard admin create-staff`")
            }
            let expires = days.map { Date().addingTimeInterval(Double($0) * 86_400) }
            let (token, _) = try await StaffService(db: client, time: SystemTime(), logger: logger).createToken(
                for: staff, name: name, expiresAt: expires)
            print(token)
        }
    }
}

struct RotateSecretKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-secret-key",
        abstract: "Re-seal every stored webhook secret with a new key, in one transaction; then point CALLBOARD_SECRET_KEY_FILE at the new file.")
    @OptionGroup var database: DatabaseOptions
    @Option(name: .long, help: "The key file the secrets are sealed with now") var old: String
    @Option(name: .long, help: "The new key file (make one with: head -c 32 /dev/urandom | base64 > FILE)") var new: String

    func run() async throws {
        let settings = try database.settings()
        let logger = Logs.bootstrap(settings)
        let oldKey: SecretKey
        let newKey: SecretKey
        do {
            oldKey = try SecretKey.load(file: old)
            newKey = try SecretKey.load(file: new)
        } catch {
            throw ValidationError(String(describing: error))
        }
        try await withDatabase(settings, logger: logger) { client in
            try await Migrator(migrations: try Migration.bundled(), logger: logger).requireCurrent(client)
            do {
                let r = try await SecretKeyRotation.rotate(from: oldKey, to: newKey, on: client, logger: logger)
                print(
                    "Re-sealed \(r.resealed) secret(s) with key \(newKey.id); \(r.alreadyNew) already were. Now set CALLBOARD_SECRET_KEY_FILE=\(new) and restart."
                )
            } catch let e as SecretKey.Invalid {
                throw ValidationError("nothing changed: \(e.description)")
            }
        }
    }
}
