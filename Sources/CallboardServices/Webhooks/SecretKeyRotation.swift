import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// `callboard admin rotate-secret-key`: every sealed secret is opened with the old key and sealed
/// with the new one, in one transaction (all or nothing). Secrets already sealed with the new key
/// are left as they are, so running it twice is harmless.
public enum SecretKeyRotation {
    public struct Report: Sendable, Equatable {
        public var resealed = 0
        public var alreadyNew = 0
    }

    public static func rotate(from old: SecretKey, to new: SecretKey, on db: PostgresClient, logger: Logger) async throws -> Report {
        try await db.transaction(logger: logger) { conn in
            var report = Report()
            for (id, sealed) in try await WebhookStore.sealedSecrets(on: conn, logger: logger) {
                if sealed.keyID == new.id {
                    report.alreadyNew += 1
                    continue
                }
                let secret = try old.open(sealed, context: id)
                try await WebhookStore.reseal(id, try new.seal(secret, context: id), on: conn, logger: logger)
                report.resealed += 1
            }
            return report
        }
    }
}
