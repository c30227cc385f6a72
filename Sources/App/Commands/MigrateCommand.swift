import MultiRegion
import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import NIOPosix
import PostgresNIO

/// `App migrate`: applies pending migrations to the primary, or lists them with `--status`.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending SQL migrations from Migrations/ to the primary (DATABASE_URL)."
    )

    @Flag(name: .long, help: "List applied and pending migrations without applying any.")
    var status = false

    @Option(name: .long, help: "The folder of migration files.")
    var directory = "Migrations"

    /// The pool's own log, errors only: a one-shot command leases a connection as the pool
    /// starts, which the pool reports as a warning.
    static func quiet(_ logger: Logger) -> Logger {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .error)
        return quiet
    }

    func run() async throws {
        let configuration = try await EnvironmentReader.configurationOrExit()
        var logger = Logger(label: "migrate")
        logger.logLevel = configuration.logLevel
        let files: [MigrationFile]
        do {
            files = try MigrationFile.load(from: directory)
        } catch {
            throw ValidationError(error.description)
        }
        let client = PostgresClient(
            configuration: configuration.primaryURL.clientConfiguration(connectTimeout: .seconds(10), maximumConnections: 1),
            backgroundLogger: Self.quiet(logger)
        )
        let migrator = Migrator(client: client, files: files, logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            do {
                if status {
                    for row in try await withDatabaseTimeout(.seconds(30), timers: DeadlineTimers(eventLoop: MultiThreadedEventLoopGroup.singleton.next()), { try await migrator.status() }) {
                        print("\(row.state.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(row.name)")
                    }
                } else {
                    let applied = try await migrator.migrate()
                    print(applied.isEmpty ? "Migrations: nothing to apply." : "Migrations: applied \(applied.joined(separator: ", ")).")
                }
            } catch let error as MigrationError {
                throw ValidationError(error.description)
            } catch let error as DatabaseTimeout {
                throw ValidationError("Could not reach the primary (\(configuration.primaryURL.host)): \(error)")
            }
        }
    }
}
