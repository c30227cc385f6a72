import Foundation

/// Regions whose machine is stopped until a request needs it, and how long each takes to boot.
///
/// On Fly, with `auto_stop_machines = "stop"`, the proxy starts a stopped machine for the
/// request that needs it, and that request waits for the boot. The local edge plays this: the
/// first request routed to such a region is held for its boot time before it is forwarded;
/// requests that arrive during the boot wait for the same boot to end. With an idle stop, a
/// region that had no request for that long is stopped again, and the next request boots it
/// anew. Without one, a region boots once, on its first request.
public struct ColdStarts: Sendable, Equatable {
    /// The boot time of each region that starts stopped, by region code.
    public let bootTimes: [String: Duration]
    /// How long a region may go without a request before it is stopped again; `nil`: never.
    public let idleStop: Duration?

    /// No region starts stopped: every request is forwarded at once.
    public static let none = ColdStarts(bootTimes: [:], idleStop: nil)

    /// Regions that start stopped and boot in `bootTimes`, stopped again after `idleStop`
    /// without a request (never, when `nil`).
    public init(bootTimes: [String: Duration], idleStop: Duration? = nil) {
        self.bootTimes = Dictionary(uniqueKeysWithValues: bootTimes.map { ($0.key.lowercased(), $0.value) })
        self.idleStop = idleStop
    }

    /// Parses `ord=3s` entries, each of which may be a comma list (`ord=3s,ams=1500ms`), as
    /// given on the command line, and an idle stop like `30s` (`nil`: never stop again).
    public init(parsing entries: [String], idleStop: String? = nil) throws(EdgeConfigurationError) {
        var bootTimes: [String: Duration] = [:]
        for entry in entries.flatMap({ $0.split(separator: ",") }) {
            let parts = entry.split(separator: "=", maxSplits: 1)
            let region = parts.first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard parts.count == 2, !region.isEmpty else { throw .badColdStart(String(entry)) }
            guard bootTimes[region] == nil else { throw .duplicateRegion(region) }
            bootTimes[region] = try RegionDistances.duration(String(parts[1]))
        }
        var idle: Duration?
        if let idleStop {
            idle = try RegionDistances.duration(idleStop, upTo: .seconds(3600))
            guard idle != .zero else { throw .badDuration(idleStop) }
        }
        self.init(bootTimes: bootTimes, idleStop: idle)
    }

    /// The boot time of `region`, or `nil` when it is always running.
    public func bootTime(of region: String) -> Duration? {
        bootTimes[region.lowercased()]
    }

    /// The regions that start stopped, sorted.
    public var regions: [String] { bootTimes.keys.sorted() }

    /// Throws when a cold start names a region that `map` does not have.
    public func check(against map: RegionMap) throws(EdgeConfigurationError) {
        if let unknown = regions.first(where: { map.region(named: $0) == nil }) { throw .unknownColdStartRegion(unknown) }
    }
}

/// The simulated machines of the regions with a cold start: stopped, booting, or running.
///
/// Boots are instants, not tasks: a boot ends at its instant whether or not the request that
/// started it is still waiting, as a machine does when its client gives up.
actor SimulatedMachines {
    /// How a request got into its region's machine.
    enum Admission: Equatable {
        /// The machine was running: forwarded at once.
        case running
        /// The machine was stopped: this request started it and waits for the whole boot.
        case started(wait: Duration)
        /// The machine was booting for an earlier request: this one waits for the rest.
        case booting(wait: Duration)

        /// How long the request is held before it is forwarded.
        var wait: Duration {
            switch self {
            case .running: .zero
            case .started(let wait), .booting(let wait): wait
            }
        }
    }

    private let coldStarts: ColdStarts
    /// When each region's machine is (or was) ready; absent: never started.
    private var readyAt: [String: ContinuousClock.Instant] = [:]
    /// When each region's machine last took a request (or finished the boot that request waited for).
    private var lastUsed: [String: ContinuousClock.Instant] = [:]

    init(_ coldStarts: ColdStarts) {
        self.coldStarts = coldStarts
    }

    /// Lets a request into `region`'s machine at `now`: says whether it must wait for a boot.
    func admit(_ region: String, at now: ContinuousClock.Instant = .now) -> Admission {
        guard let bootTime = coldStarts.bootTime(of: region) else { return .running }
        let admission: Admission
        if let ready = readyAt[region], !isStopped(region, ready: ready, at: now) {
            admission = ready > now ? .booting(wait: ready - now) : .running
        } else {
            readyAt[region] = now + bootTime
            admission = .started(wait: bootTime)
        }
        lastUsed[region] = max(now, readyAt[region] ?? now)
        return admission
    }

    /// A machine that finished booting and then had no request for the idle stop is stopped.
    private func isStopped(_ region: String, ready: ContinuousClock.Instant, at now: ContinuousClock.Instant) -> Bool {
        guard let idleStop = coldStarts.idleStop, ready <= now, let last = lastUsed[region] else { return false }
        return now - last >= idleStop
    }
}
