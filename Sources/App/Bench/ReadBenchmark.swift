#if canImport(FoundationEssentials)
import MultiRegion
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import PostgresNIO

/// Times reads of the users list against several databases and reports them the way the
/// seed article (Benchee) does: ips, average, deviation, median, 99th percentile, and how
/// many times slower each is than the fastest.
struct ReadBenchmark: Sendable {
    /// One database to read from.
    struct Target: Sendable {
        let name: String
        let url: DatabaseURL
    }

    /// Timings of one target, in seconds.
    struct Result: Sendable {
        let name: String
        let samples: [Double]

        var average: Double { samples.reduce(0, +) / Double(samples.count) }
        var ips: Double { 1 / average }
        var deviation: Double {
            let mean = average
            let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(samples.count - 1, 1))
            return variance.squareRoot() / mean
        }
        var median: Double { percentile(50) }

        func percentile(_ p: Double) -> Double {
            let sorted = samples.sorted()
            let rank = Int((p / 100 * Double(sorted.count - 1)).rounded())
            return sorted[min(max(rank, 0), sorted.count - 1)]
        }
    }

    let targets: [Target]
    let count: Int
    let warmup: Int
    let logger: Logger

    /// Runs the targets one after another, each on its own single-connection client.
    func run() async throws -> [Result] {
        let quietLogger = MigrateCommand.quiet(logger)
        var results: [Result] = []
        for target in targets {
            let client = PostgresClient(
                configuration: target.url.clientConfiguration(connectTimeout: .seconds(10), maximumConnections: 1),
                backgroundLogger: quietLogger
            )
            let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
                group.addTask { await client.run(); return [] }
                defer { group.cancelAll() }
                let clock = ContinuousClock()
                var samples: [Double] = []
                for iteration in 0..<(warmup + count) {
                    let elapsed = try await clock.measure {
                        let rows = try await client.query(
                            "SELECT id, name, age, inserted_at, updated_at FROM users ORDER BY id DESC LIMIT 20",
                            logger: logger
                        )
                        for try await _ in rows {}
                    }
                    if iteration >= warmup {
                        samples.append(elapsed.inSeconds)
                    }
                }
                return samples
            }
            results.append(Result(name: target.name, samples: samples))
        }
        return results
    }

    /// The report, in Benchee's layout.
    static func report(_ results: [Result]) -> String {
        let nameWidth = max(results.map(\.name.count).max() ?? 4, 4) + 2
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let padding = String(repeating: " ", count: max(width - text.count, 0))
            return left ? text + padding : padding + text
        }
        var lines = [
            pad("Name", nameWidth, left: true) + pad("ips", 10) + pad("average", 14) + pad("deviation", 12) + pad("median", 14) + pad("99th %", 14)
        ]
        let ranked = results.sorted { $0.ips > $1.ips }
        for result in ranked {
            lines.append(
                pad(result.name, nameWidth, left: true) + pad(ips(result.ips), 10) + pad(time(result.average), 14)
                    + pad("±" + Text.fixed(result.deviation * 100, places: 2) + "%", 12) + pad(time(result.median), 14)
                    + pad(time(result.percentile(99)), 14)
            )
        }
        if let fastest = ranked.first, ranked.count > 1 {
            lines += ["", "Comparison: ", pad(fastest.name, nameWidth, left: true) + pad(ips(fastest.ips), 10)]
            for result in ranked.dropFirst() {
                let slower = fastest.ips / result.ips
                let extra = result.average - fastest.average
                lines.append(
                    pad(result.name, nameWidth, left: true) + pad(ips(result.ips), 10)
                        + " - \(Text.fixed(slower, places: 2))x slower +\(time(extra))"
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func ips(_ value: Double) -> String {
        value >= 1000 ? Text.fixed(value / 1000, places: 2) + " K" : Text.fixed(value, places: 2)
    }

    private static func time(_ seconds: Double) -> String {
        if seconds >= 1 { return Text.fixed(seconds, places: 2) + " s" }
        if seconds >= 0.001 { return Text.fixed(seconds * 1000, places: 2) + " ms" }
        return Text.fixed(seconds * 1_000_000, places: 2) + " μs"
    }
}
