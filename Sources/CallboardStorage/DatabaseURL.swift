import Foundation
import PostgresNIO

/// Parses `DATABASE_URL` (postgres://user:password@host:port/database?sslmode=…&host=/socket/dir)
/// into a PostgresClient configuration.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public var username: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    /// A folder holding the server's unix socket; used instead of TCP when set.
    public var socketDirectory: String?
    public var sslMode: String

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(_ string: String) throws {
        guard let c = URLComponents(string: string), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw Invalid(description: "DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        username = c.user?.removingPercentEncoding ?? "postgres"
        password = c.password?.removingPercentEncoding
        host = c.host ?? "127.0.0.1"
        port = c.port ?? 5432
        let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        database = path.isEmpty ? username : path
        let query = Dictionary((c.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        sslMode = query["sslmode"] ?? "prefer"
        guard ["disable", "prefer", "require", "verify-full"].contains(sslMode) else {
            throw Invalid(description: "DATABASE_URL sslmode must be disable, prefer, require or verify-full")
        }
    }

    /// The same URL for another database on the same server (tests make one per test).
    public func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// Never shows the password: this string may be logged.
    public var description: String {
        let target = socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } ?? "\(host):\(port)"
        return "postgres://\(username)@\(target)/\(database)"
    }

    enum TLSMode {
        case require(TLSConfiguration)
        case prefer(TLSConfiguration)
    }

    /// What `sslmode` asks for (nil: no TLS), in the one form both configuration types are built from:
    /// only `verify-full` checks the server's certificate, as in libpq.
    func tlsMode() -> TLSMode? {
        var t = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case "disable": return nil
        case "verify-full": return .require(t)
        case "require":
            t.certificateVerification = .none
            return .require(t)
        default:
            t.certificateVerification = .none
            return .prefer(t)
        }
    }

    /// For a single dedicated connection (the LISTEN connection of a worker).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        if let dir = socketDirectory {
            return .init(unixSocketPath: "\(dir)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        }
        let tls: PostgresConnection.Configuration.TLS
        switch tlsMode() {
        case nil: tls = .disable
        case .require(let t): tls = .require(try .init(configuration: t))
        case .prefer(let t): tls = .prefer(try .init(configuration: t))
        }
        return .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    /// The pool every process uses (see below for why it keeps no connections open).
    public func clientConfiguration(maxConnections: Int = 20) throws -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let dir = socketDirectory {
            config = .init(unixSocketPath: "\(dir)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch tlsMode() {
            case nil: tls = .disable
            case .require(let t): tls = .require(t)
            case .prefer(let t): tls = .prefer(t)
            }
            config = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        config.options.maximumConnections = maxConnections
        // No kept-open minimum. PostgresNIO 1.33.2's pool asserts `minimumConnections <= active`
        // when it creates a demand connection; after PostgreSQL restarts it can be back in its
        // running state with fewer live connections than the minimum (failed replacements are
        // dropped while one connection retries), and with a minimum above 1 the process died with
        // a precondition failure in `ConnectionGroup.createNewDemandConnectionIfPossible` under
        // load (reproduced; no upstream fix in the mirror). With no minimum the assertion cannot
        // fail. Keep-alive stays off (its timers were most of the growth `callboard probe` measured),
        // and idle connections close after 5 s: each idle period holds ~850 bytes in the pool until
        // its idle timer fires, so with 60 s RSS grew 8 MB per 10,000 queries (measured); with 3–5 s
        // it stays flat.
        config.options.minimumConnections = 0
        config.options.keepAliveBehavior = nil
        config.options.connectionIdleTimeout = .seconds(5)
        config.options.connectTimeout = .seconds(3)
        return config
    }
}
