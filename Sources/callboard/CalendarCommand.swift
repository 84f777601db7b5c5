import ArgumentParser
import AsyncHTTPClient
import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import Logging
import NIOCore

struct CalendarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calendar", abstract: "The bank-holiday calendar behind working days.",
        subcommands: [Refresh.self])

    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a newer GOV.UK bank-holidays snapshot (from a file or the feed); servers use it from their next start.")
        @OptionGroup var database: DatabaseOptions
        @Option(name: .long, help: "A bank-holidays.json file") var file: String?
        @Option(name: .long, help: "The feed's address") var url: String?

        func validate() throws {
            if file != nil, url != nil { throw ValidationError("Give --file or --url, not both") }
        }

        func run() async throws {
            let settings = try database.settings()
            let logger = Logs.bootstrap(settings)
            let source = file.map { "file:" + $0 } ?? (url ?? "https://www.gov.uk/bank-holidays.json")
            let data: Data
            if let file {
                data = try Data(contentsOf: URL(fileURLWithPath: file))
            } else {
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: source), timeout: .seconds(30))
                guard response.status.code == 200 else { throw ValidationError("\(source) answered \(response.status.code)") }
                data = Data(buffer: try await response.body.collect(upTo: 5 << 20))
            }
            let holidays: BankHolidays
            do { holidays = try PreviewSLASettings.parse(data) } catch { throw ValidationError("Not a bank-holidays feed: \(error)") }
            let body = String(decoding: data, as: UTF8.self)
            let stored = try await withDatabase(settings, logger: logger) { client in
                try await Migrator(migrations: try Migration.bundled(), logger: logger).requireCurrent(client)
                return try await CalendarStore.save(version: holidays.version, source: source, body: body, at: Date(), on: client, logger: logger)
            }
            let years = Division.allCases.map { "\($0.rawValue) to \(holidays.lastYear[$0] ?? 0)" }.joined(separator: ", ")
            print(stored ? "Stored \(holidays.version) (\(years)). Restart servers to use it." : "\(holidays.version) is already stored (\(years)).")
        }
    }
}
