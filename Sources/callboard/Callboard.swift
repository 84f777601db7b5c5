import ArgumentParser

@main
struct Callboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "callboard",
        abstract: "The request desk for GOV.UK Performance Platform dashboards.",
        subcommands: [
            Serve.self, Worker.self, Migrate.self, Admin.self, Seed.self, Workflow.self, CalendarCommand.self, ConfigCommand.self, Retention.self,
            HealthCommand.self,
            Probe.self,
            BenchScheduler.self,
        ])
}
