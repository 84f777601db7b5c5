import NIOSSL
import Testing

@testable import CallboardStorage

@Suite struct DatabaseURLTests {
    /// One reading of `sslmode` serves both the pool and the LISTEN connection; only verify-full
    /// checks the certificate, as in libpq.
    @Test func sslModesMapToTLS() throws {
        func mode(_ m: String) throws -> DatabaseURL.TLSMode? { try DatabaseURL("postgres://u:p@db.example:5432/cb?sslmode=\(m)").tlsMode() }
        #expect(try mode("disable") == nil)
        guard case .require(let full)? = try mode("verify-full") else {
            Issue.record("verify-full")
            return
        }
        #expect(full.certificateVerification == .fullVerification)
        guard case .require(let required)? = try mode("require") else {
            Issue.record("require")
            return
        }
        #expect(required.certificateVerification == .none)
        guard case .prefer(let preferred)? = try DatabaseURL("postgres://u:p@db.example/cb").tlsMode() else {
            Issue.record("default")
            return
        }
        #expect(preferred.certificateVerification == .none)
        for m in ["disable", "prefer", "require", "verify-full"] {
            let url = try DatabaseURL("postgres://u:p@db.example:5432/cb?sslmode=\(m)")
            _ = try url.connectionConfiguration()
            _ = try url.clientConfiguration()
        }
    }
}
