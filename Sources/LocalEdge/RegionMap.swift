/// The regions the local edge knows: each region's app instance, the primary first.
public struct RegionMap: Sendable, Equatable {
    /// One region and the base URL of its app instance, like `http://127.0.0.1:8082`.
    public struct Region: Sendable, Equatable {
        /// The region code, like `ord`.
        public let name: String
        /// Where that region's app instance listens, like `http://127.0.0.1:8082`.
        public let instanceURL: String

        /// A region and its instance.
        public init(name: String, instanceURL: String) {
            self.name = name
            self.instanceURL = instanceURL
        }
    }

    /// The regions, the primary first.
    public let regions: [Region]

    /// The first region: where the primary database runs, and the default destination.
    public var primary: Region { regions[0] }

    /// The regions' codes, the primary first.
    public var names: [String] { regions.map(\.name) }

    /// A map of `regions` (at least one, names unique), the first being the primary.
    public init(_ regions: [Region]) throws(EdgeConfigurationError) {
        guard !regions.isEmpty else { throw .noRegions }
        var seen = Set<String>()
        for region in regions where !seen.insert(region.name).inserted {
            throw .duplicateRegion(region.name)
        }
        self.regions = regions
    }

    /// Parses `name=url` pairs, as given on the command line.
    public init(parsing pairs: [String]) throws(EdgeConfigurationError) {
        var regions: [Region] = []
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].hasPrefix("http://") else { throw .badRegion(pair) }
            regions.append(Region(name: String(parts[0]), instanceURL: String(parts[1].hasSuffix("/") ? parts[1].dropLast() : parts[1])))
        }
        try self.init(regions)
    }

    /// The region called `name`, if the edge knows it.
    public func region(named name: String?) -> Region? {
        guard let name else { return nil }
        let wanted = name.trimmingCharacters(in: .whitespaces).lowercased()
        return regions.first { $0.name == wanted }
    }
}

/// A mistake in the edge's command line.
public enum EdgeConfigurationError: Error, Equatable, CustomStringConvertible {
    /// No `--region` was given.
    case noRegions
    /// A region is named twice (in `--region`, or in `--cold-start`).
    case duplicateRegion(String)
    /// A `--region` that is not `NAME=http://HOST:PORT`.
    case badRegion(String)
    /// A duration that is not `80ms` or `0.08s`, or is too long.
    case badDuration(String)
    /// A `--link` that is not `LISTEN_PORT:TARGET_HOST:TARGET_PORT:RTT`.
    case badLink(String)
    /// A `--cold-start` entry that is not `REGION=BOOT_TIME`.
    case badColdStart(String)
    /// A `--cold-start` for a region the edge does not route to.
    case unknownColdStartRegion(String)

    /// The description, for logs and people.
    public var description: String {
        switch self {
        case .noRegions: "give at least one --region NAME=http://HOST:PORT (the first is the primary region)"
        case .duplicateRegion(let name): "region \(name) is given twice"
        case .badRegion(let text): "'\(text)' is not NAME=http://HOST:PORT"
        case .badDuration(let text): "'\(text)' is not a duration like 80ms or 0.08s"
        case .badLink(let text): "'\(text)' is not LISTEN_PORT:TARGET_HOST:TARGET_PORT:RTT, like 6442:127.0.0.1:5441:80ms"
        case .badColdStart(let text): "'\(text)' is not REGION=BOOT_TIME, like ord=3s"
        case .unknownColdStartRegion(let name): "a cold start is given for \(name), which is not one of the --region regions"
        }
    }
}

import Foundation
