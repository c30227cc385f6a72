public import CoreMetrics
public import Logging
public import NIOCore
import NIOPosix
import PostgresNIO
public import ServiceLifecycle

/// The primary and this region's replica, with the tracker that watches the replica: the one
/// object an app builds from ``MultiRegionConfiguration`` and runs as a service.
///
/// ```swift
/// let database = try MultiRegionDatabase(configuration: configuration, logger: logger)
/// app.addServices(database)
/// ```
///
/// Requests reach it through a ``DatabaseSession`` each (the Hummingbird layer makes them),
/// which runs reads where the request's routing chose and writes on the primary.
///
/// What it holds open: a pool to the database that serves reads (``MultiRegionConfiguration/readPoolSize``,
/// one connection kept warm), a pool to a primary in another region
/// (``MultiRegionConfiguration/writePoolSize``, one kept warm), and one connection of the
/// tracker's own to the replica, polled every 500 ms (every 5 ms while a read waits).
public final class MultiRegionDatabase: Service, Sendable {
    /// What it was built from.
    public let configuration: MultiRegionConfiguration
    /// The replica's tracker; `nil` when reads go to the primary.
    public let tracker: ReplicaTracker?
    /// The clock of every database deadline; share it with the app's own deadlines.
    public let timers: DeadlineTimers
    /// The machinery's metrics.
    package let metrics: MultiRegionMetrics
    package let logger: Logger
    let primary: DatabasePool
    let replica: DatabasePool?
    private let trackerPool: DatabasePool?

    /// Where this instance runs.
    public var regions: RegionInfo { configuration.regions }

    /// Builds the pools and the tracker; nothing connects until ``run()``.
    ///
    /// - Parameters:
    ///   - configuration: The databases and the bounds.
    ///   - logger: Where connection changes and fallbacks are logged.
    ///   - metricsFactory: The metrics backend (default: the process-wide `MetricsSystem`).
    ///   - eventLoopGroup: The connections' event loops.
    ///   - timers: The deadline clock to share, or `nil` for one of its own.
    /// - Throws: When TLS cannot be set up for a URL's `sslmode`.
    public init(
        configuration: MultiRegionConfiguration,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timers: DeadlineTimers? = nil
    ) throws {
        self.configuration = configuration
        self.logger = logger
        let timers = timers ?? DeadlineTimers(eventLoop: eventLoopGroup.next())
        self.timers = timers
        let metrics = MultiRegionMetrics(
            region: configuration.regions.region, factory: metricsFactory, replayReasons: ReplayReason.allCases.map(\.rawValue)
        )
        self.metrics = metrics
        let replicaURL = configuration.replicaURL
        /// A pool of `url` for `role`; `counted` pools report their connections as a gauge (the
        /// tracker's own connection is not part of the budget that gauge shows).
        func pool(_ url: DatabaseURL, role: DatabaseRole, maximum: Int, counted: Bool = true) throws -> DatabasePool {
            DatabasePool(
                configuration: try url.poolConfiguration(
                    maximumConnections: maximum, connectTimeout: configuration.connectTimeout,
                    applicationName: configuration.regions.region
                ),
                eventLoopGroup: eventLoopGroup,
                timers: timers,
                logger: logger,
                connectionsChanged: { if counted { metrics.databaseConnections(role: role, open: $0) } },
                connectFailed: { metrics.connectionRefused(role: role, reason: $0) }
            )
        }
        // The pool that serves the reads is the larger one; in a replica region the primary
        // only takes writes and read-your-writes fallbacks.
        primary = try pool(
            configuration.primaryURL, role: .primary,
            maximum: replicaURL == nil ? configuration.readPoolSize : configuration.writePoolSize
        )
        replica = try replicaURL.map { try pool($0, role: .replica, maximum: configuration.readPoolSize) }
        // The tracker polls the replica through a connection of its own: its polls never wait
        // behind requests for a pooled connection, and a replica that is down shows at once.
        trackerPool = try replicaURL.map { try pool($0, role: .replica, maximum: 1, counted: false) }
        let primary = self.primary
        tracker = trackerPool.map {
            ReplicaTracker(replica: $0, primary: primary, timers: timers, metrics: metrics, logger: logger)
        }
    }

    /// Whether reads have a replica of their own (else they use the primary).
    public var hasReplica: Bool { replica != nil }

    /// A session for one request, reading from `role` (the primary when there is no replica).
    ///
    /// - Parameter role: Where the request's routing sends its reads.
    public func session(readingFrom role: DatabaseRole = .replica) -> DatabaseSession {
        DatabaseSession(database: self, readRole: hasReplica ? role : .primary)
    }

    /// Runs the pools and the tracker until graceful shutdown; the tracker stops first.
    public func run() async throws {
        if let reason = configuration.readsFromPrimaryReason {
            logger.notice("Reads use the primary in this region: \(reason)")
        }
        var services: [any Service] = [primary]
        if let replica { services.append(replica) }
        if let trackerPool { services.append(trackerPool) }
        if let tracker { services.append(tracker) }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [], logger: logger))
        try await group.run()
    }

    /// The pool for calls on `role`.
    func pool(for role: DatabaseRole) -> DatabasePool {
        switch role {
        case .primary: primary
        case .replica: replica ?? primary
        }
    }

    /// The server that answers calls meant for `role`: the primary when there is no replica.
    func server(for role: DatabaseRole) -> DatabaseRole {
        replica == nil ? .primary : role
    }
}

/// Why a request is replayed to the primary region; sent as `fly-replay`'s `state` and counted
/// in `fly_replays_sent_total{reason}`.
public enum ReplayReason: String, Sendable, CaseIterable {
    /// A write arrived outside the primary region.
    case write
    /// A GET tried to write and the replica refused it (SQLSTATE 25006).
    case capturedWrite = "captured_write"
    /// The replica did not catch up with the reader's own write in time.
    case stale
    /// The replica is unreachable.
    case replicaDown = "replica_down"
}
