import ArgumentParser

/// The app's command line: `serve` (the default), `migrate` and `bench`.
@main
struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "App",
        abstract: "A users app that reads from the nearest Postgres replica and writes to the primary.",
        subcommands: [ServeCommand.self, MigrateCommand.self, BenchCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
