import ArgumentParser
import Hummingbird

/// `App serve`: runs the web server until SIGTERM or SIGINT, then drains in-flight requests.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the app (configured by DATABASE_URL, REPLICA_DATABASE_URL, FLY_REGION, PORT, ...)."
    )

    func run() async throws {
        let reader = try await EnvironmentReader.make()
        let app: any ApplicationProtocol
        do {
            app = try buildApplication(reader: reader)
        } catch let error as ConfigurationError {
            exitWithConfigurationError(error)
        }
        try await app.runService()
    }
}
