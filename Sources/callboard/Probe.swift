import ArgumentParser
import CallboardServices
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// Runs many trivial queries and prints the resident size: tells a leak in the database path
/// apart from one in HTTP handling. Not needed for running Callboard.
struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Diagnostics: resident memory across N database round trips.", shouldDisplay: false)
    @OptionGroup var database: DatabaseOptions
    @Option var count = 20000
    @Option var mode = "query"
    @Flag(help: "Run even on a database that holds requests")
    var force = false

    func run() async throws {
        let settings = try database.settings()
        let logger = Logs.bootstrap(settings)
        let (count, mode, force, url) = (self.count, self.mode, self.force, try settings.database())
        // It only reads, but it loads the server with tens of thousands of queries: it creates no
        // requests, so any request means this is not a throwaway database (DevelopmentData.probe).
        try await withDatabase(settings, logger: logger) { client in
            try await DevelopmentData.probe.requireOwnData(force: force, database: url.description, on: client, logger: logger)
        }
        if mode == "conn" {
            let conn = try await PostgresConnection.connect(configuration: try settings.database().connectionConfiguration(), id: 1, logger: logger)
            for round in 0..<3 {
                for _ in 0..<count { _ = try await conn.query("SELECT 1::int8", logger: logger).collect() }
                print(
                    "round \(round): \((try? String(contentsOfFile: "/proc/self/status", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("VmRSS") } ?? "")"
                )
            }
            try await conn.close()
            return
        }
        try await withDatabase(settings, logger: logger) { client in
            func rss() -> String {
                (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("VmRSS") }.map(
                    String.init) ?? ""
            }
            for round in 0..<3 {
                try await withThrowingTaskGroup(of: Void.self) { g in
                    for w in 0..<16 {
                        g.addTask {
                            for _ in 0..<(count / 16) {
                                switch mode {
                                case "withConnection":
                                    _ = try await client.withConnection { try await $0.query("SELECT 1", logger: logger).collect() }
                                case "nolog":
                                    _ = try await client.query("SELECT \(w)::int8").collect()
                                case "iterate":
                                    for try await _ in try await client.query("SELECT \(w)::int8") {}
                                default:
                                    _ = try await client.query("SELECT \(w)::int8", logger: logger).collect()
                                }
                            }
                        }
                    }
                    try await g.waitForAll()
                }
                print("round \(round): \(rss())")
            }
        }
    }
}
