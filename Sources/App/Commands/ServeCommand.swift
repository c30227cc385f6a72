import MultiRegion
import ArgumentParser
import Hummingbird
import ServiceLifecycle

/// `App serve`: runs the web server until SIGTERM or SIGINT, then drains in-flight requests
/// for at most `SHUTDOWN_TIMEOUT` and exits, whatever is still pending.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the app (configured by DATABASE_URL, REPLICA_DATABASE_URL, FLY_REGION, PORT, ...)."
    )

    func run() async throws {
        let reader = try await EnvironmentReader.make()
        let configuration: AppConfiguration
        do {
            configuration = try AppConfiguration(reader: reader)
        } catch {
            exitWithConfigurationError(error)
        }
        let dependencies = try AppDependencies(configuration: configuration)
        let app = buildApplication(dependencies, router: dependencies.buildRouter())

        let shutdownDeadline = ShutdownDeadline(
            limit: configuration.shutdownTimeout, inFlight: dependencies.inFlight, logger: dependencies.logger
        )
        shutdownDeadline.watchSignals()
        var group = ServiceGroupConfiguration(
            // Graceful shutdown goes through the services last to first: the deadline starts first.
            services: [.init(service: app), .init(service: shutdownDeadline)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: dependencies.logger
        )
        // Leave a second of the deadline for cancelled work to end before the process exits.
        group.maximumGracefulShutdownDuration = max(configuration.shutdownTimeout - .seconds(1), configuration.shutdownTimeout / 2)
        do {
            try await ServiceGroup(configuration: group).run()
        } catch {
            // Most often the port is taken; say so plainly and fail, so scripts and Fly see it.
            dependencies.logger.critical("The server stopped with an error: \(error)")
            throw ExitCode.failure
        }
    }
}
