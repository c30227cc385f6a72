import MultiRegion
import Configuration
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The configuration sources, in order: the process environment, then `.env` if present.
enum EnvironmentReader {
    static func make(envFile: String = ".env") async throws -> ConfigReader {
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider()]
        if FileManager.default.fileExists(atPath: envFile) {
            providers.append(try await EnvironmentVariablesProvider(environmentFilePath: .init(envFile), allowMissing: true))
        }
        return ConfigReader(providers: providers)
    }

    /// The validated configuration; on a mistake, says which variable is wrong and exits.
    static func configurationOrExit() async throws -> AppConfiguration {
        let reader = try await make()
        do {
            return try AppConfiguration(reader: reader)
        } catch {
            exitWithConfigurationError(error)
        }
    }
}

/// Prints a start-up problem plainly (no stack trace, no secrets) and exits with status 78.
func exitWithConfigurationError(_ error: ConfigurationError) -> Never {
    var line = "Configuration error: \(error.description)\n"
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(78)  // EX_CONFIG
}
