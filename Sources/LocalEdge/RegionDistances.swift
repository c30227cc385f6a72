/// Simulated round-trip times between regions, so a laptop shows what crossing an ocean costs.
///
/// Either one time for every pair of different regions (`80ms`), or a table of pairs
/// (`nrt-ord=150ms,nrt-ams=230ms,ord-ams=90ms`); pairs not in the table cost nothing.
public struct RegionDistances: Sendable, Equatable {
    private let uniform: Duration
    private let pairs: [Set<String>: Duration]

    /// No simulated latency between any regions.
    public static let none = RegionDistances(uniform: .zero, pairs: [:])

    private init(uniform: Duration, pairs: [Set<String>: Duration]) {
        self.uniform = uniform
        self.pairs = pairs
    }

    /// Parses `80ms` (every pair) or `nrt-ord=150ms,nrt-ams=230ms`.
    public init(parsing text: String) throws(EdgeConfigurationError) {
        if !text.contains("=") {
            self.init(uniform: try Self.duration(text), pairs: [:])
            return
        }
        var pairs: [Set<String>: Duration] = [:]
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            let regions = parts.first?.split(separator: "-").map { String($0).lowercased() } ?? []
            guard parts.count == 2, regions.count == 2 else { throw .badDuration(String(entry)) }
            pairs[Set(regions)] = try Self.duration(String(parts[1]))
        }
        self.init(uniform: .zero, pairs: pairs)
    }

    /// The round trip between two regions; zero within a region.
    public func roundTrip(_ from: String, _ to: String) -> Duration {
        guard from != to else { return .zero }
        return pairs[[from, to]] ?? uniform
    }

    /// Parses `80ms`, `0.08s` or a bare number of milliseconds, at most `maximum`.
    public static func duration(_ text: String, upTo maximum: Duration = .seconds(60)) throws(EdgeConfigurationError) -> Duration {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let (number, scale): (Substring, Double) =
            if trimmed.hasSuffix("ms") { (trimmed.dropLast(2), 1) }
            else if trimmed.hasSuffix("s") { (trimmed.dropLast(), 1000) }
            else { (Substring(trimmed), 1) }
        guard let value = Double(number), value >= 0, value.isFinite, value * scale <= 3_600_000 else {
            throw .badDuration(text)
        }
        let duration = Duration.microseconds(Int64((value * scale * 1000).rounded()))
        guard duration <= maximum else { throw .badDuration(text) }
        return duration
    }
}

import Foundation
