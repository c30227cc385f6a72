import MultiRegion
import ArgumentParser
import Logging

/// `App bench`: times reads of the users list against each database this instance can reach.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time reads of the users list against the local replica, the primary and other databases.",
        discussion: """
            By default it measures the replica (REPLICA_DATABASE_URL, or the Fly-derived one) and the \
            primary (DATABASE_URL). Add more with --target, e.g. on Fly: \
            --target "ams replica=postgres://user:pass@ams.my-db.internal:5433/my_app".
            """
    )

    @Option(name: .shortAndLong, help: "Reads per database.")
    var count = 1000

    @Option(help: "Untimed reads per database first.")
    var warmup = 50

    @Option(name: .customLong("target"), help: "NAME=postgres://… another database to measure.")
    var targets: [String] = []

    func run() async throws {
        let configuration = try await EnvironmentReader.configurationOrExit()
        var list: [ReadBenchmark.Target] = []
        let region = configuration.regions.region
        if let replica = configuration.replicaURL {
            list.append(.init(name: "\(region) replica", url: replica))
        }
        list.append(.init(name: "\(configuration.regions.primaryRegion) primary", url: configuration.primaryURL))
        for target in targets {
            let parts = target.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--target must be NAME=postgres://…") }
            do {
                list.append(.init(name: String(parts[0]), url: try DatabaseURL(parsing: String(parts[1]))))
            } catch {
                throw ValidationError("--target \(parts[0]) \(error.description)")
            }
        }
        guard count > 0, warmup >= 0 else { throw ValidationError("--count must be positive") }
        print("Reading the users list \(count) times from each of: \(list.map(\.name).joined(separator: ", ")), running in \(region)\n")
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let results = try await ReadBenchmark(targets: list, count: count, warmup: warmup, logger: logger).run()
        print(ReadBenchmark.report(results))
    }
}
