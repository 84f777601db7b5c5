import ArgumentParser
import CallboardServices
import Foundation

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check the settings, or print their reference.",
        subcommands: [Check.self, Docs.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the settings in the environment and print each effective value and its source (secrets redacted).")

        func run() throws {
            let settings: Settings
            do {
                settings = try Settings(environment: ProcessInfo.processInfo.environment)
            } catch {
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
                throw ExitCode.failure
            }
            print(settings.effectiveLines().joined(separator: "\n"))
        }
    }

    struct Docs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the Markdown configuration reference (docs/configuration.md) generated from the settings catalog.")

        func run() {
            print(Settings.markdownReference(), terminator: "")
        }
    }
}
