public import Configuration

/// What the multi-region machinery reads from the environment, validated once at start-up.
///
/// Read it in the composition root and hand it to ``MultiRegionDatabase``:
///
/// ```swift
/// let configuration = try MultiRegionConfiguration(reader: ConfigReader(provider: EnvironmentVariablesProvider()))
/// ```
public struct MultiRegionConfiguration: Sendable {
    /// The primary, which takes every write (`DATABASE_URL`).
    public var primaryURL: DatabaseURL
    /// This region's read replica; `nil` when reads go to the primary.
    public var replicaURL: DatabaseURL?
    /// How the replica was chosen, for the start-up log and the badge.
    public var replicaSource: ReplicaSource
    /// Where this instance runs and where the primary is.
    public var regions: RegionInfo
    /// How writes reach the primary from other regions (`WRITE_MODE`).
    public var writeMode: WriteMode
    /// How long a read waits for the replica to replay the reader's own write
    /// (`READ_YOUR_WRITES_TIMEOUT`, seconds, default 2).
    public var readYourWritesTimeout: Duration
    /// The replica lag above which `/readyz` fails (`MAX_REPLICA_LAG`, seconds, default 30).
    public var maxReplicaLag: Duration
    /// The longest one database call may take, lease included (`DATABASE_TIMEOUT`, seconds,
    /// default 3).
    public var databaseTimeout: Duration
    /// How long Fly's proxy may try to replay a request to the primary region before it gives
    /// the request back to this instance (`REPLAY_TIMEOUT`, seconds, default 6: more than the
    /// primary region's own request deadline, so a slow write is not given back while it runs).
    public var replayTimeout: Duration
    /// At most this many connections to the database that serves reads (default 10).
    public var readPoolSize: Int
    /// At most this many connections to a primary in another region (default 4).
    public var writePoolSize: Int
    /// Upper bound for opening a connection, TLS and authentication included (default 3 s).
    public var connectTimeout: Duration

    /// Creates a configuration from values, for tests and for apps that read their own.
    ///
    /// - Parameters:
    ///   - primaryURL: The writable primary.
    ///   - replicaURL: This region's replica, or `nil` to read from the primary.
    ///   - regions: Where this instance runs.
    ///   - writeMode: How writes reach the primary from other regions.
    ///   - readYourWritesTimeout: How long a read waits for the reader's own write.
    ///   - maxReplicaLag: The lag above which `/readyz` fails.
    ///   - databaseTimeout: The bound of one database call.
    public init(
        primaryURL: DatabaseURL,
        replicaURL: DatabaseURL?,
        regions: RegionInfo,
        writeMode: WriteMode = .direct,
        readYourWritesTimeout: Duration = .seconds(2),
        maxReplicaLag: Duration = .seconds(30),
        databaseTimeout: Duration = .seconds(3)
    ) {
        self.primaryURL = primaryURL
        self.replicaURL = replicaURL
        self.replicaSource = replicaURL == nil ? .none : .configured
        self.regions = regions
        self.writeMode = writeMode
        self.readYourWritesTimeout = readYourWritesTimeout
        self.maxReplicaLag = maxReplicaLag
        self.databaseTimeout = databaseTimeout
        self.replayTimeout = .seconds(6)
        self.readPoolSize = 10
        self.writePoolSize = 4
        self.connectTimeout = .seconds(3)
    }

    /// Reads and validates the configuration.
    ///
    /// Keys (environment variables):
    /// - `DATABASE_URL` (required): the primary.
    /// - `REPLICA_DATABASE_URL`: the regional replica. On Fly (`FLY_APP_NAME` set), outside the
    ///   primary region, it defaults to `top1.nearest.of.<pg-app>.internal:5433`.
    /// - `FLY_REGION` (default `local`), `PRIMARY_REGION` (default `FLY_REGION`),
    ///   `FLY_MACHINE_ID`, `FLY_APP_NAME`, `FLY_MACHINE_VERSION`, `FLY_IMAGE_REF`.
    /// - `WRITE_MODE`: `replay` (default on Fly) or `direct` (default elsewhere).
    /// - `READ_YOUR_WRITES_TIMEOUT` (seconds, default 2), `MAX_REPLICA_LAG` (seconds, default 30),
    ///   `DATABASE_TIMEOUT` (seconds, default 3, more than 0), `REPLAY_TIMEOUT` (seconds, default 6).
    ///
    /// - Parameter reader: Where the values come from.
    /// - Throws: ``ConfigurationError`` naming the variable at fault.
    public init(reader: ConfigReader) throws(ConfigurationError) {
        guard let primaryText = reader.nonEmptyString(forKey: "database.url", isSecret: true) else {
            throw .missing("DATABASE_URL", hint: "set it to the primary's URL, like postgres://user:password@host:5432/database")
        }
        let primaryURL: DatabaseURL
        do {
            primaryURL = try DatabaseURL(parsing: primaryText)
        } catch {
            throw .invalid("DATABASE_URL", reason: error.description)
        }

        let region = reader.nonEmptyString(forKey: "fly.region") ?? "local"
        let primaryRegion = reader.nonEmptyString(forKey: "primary.region") ?? region
        for (name, value) in [("FLY_REGION", region), ("PRIMARY_REGION", primaryRegion)] where !RegionInfo.isRegionCode(value) {
            throw .invalid(name, reason: "must be a region code such as ord or nrt")
        }
        let regions = RegionInfo(
            region: region,
            primaryRegion: primaryRegion,
            machineID: reader.nonEmptyString(forKey: "fly.machine.id"),
            appName: reader.nonEmptyString(forKey: "fly.app.name"),
            machineVersion: reader.nonEmptyString(forKey: "fly.machine.version"),
            imageRef: reader.nonEmptyString(forKey: "fly.image.ref")
        )

        var replicaURL: DatabaseURL?
        var replicaSource = ReplicaSource.none
        if let replicaText = reader.nonEmptyString(forKey: "replica.database.url", isSecret: true) {
            do {
                replicaURL = try DatabaseURL(parsing: replicaText)
                replicaSource = .configured
            } catch {
                throw .invalid("REPLICA_DATABASE_URL", reason: error.description)
            }
        } else if regions.isOnFly, !regions.isPrimaryRegion {
            replicaURL = primaryURL.flyNearestReplica()
            replicaSource = replicaURL == nil ? .notAFlyAppHost : .flyNearest
        }

        let writeMode: WriteMode
        if let modeText = reader.nonEmptyString(forKey: "write.mode") {
            guard let mode = WriteMode(rawValue: modeText.lowercased()) else {
                throw .invalid("WRITE_MODE", reason: "must be replay or direct")
            }
            writeMode = mode
        } else {
            writeMode = regions.isOnFly ? .replay : .direct
        }

        self.init(
            primaryURL: primaryURL,
            replicaURL: replicaURL,
            regions: regions,
            writeMode: writeMode,
            readYourWritesTimeout: try reader.seconds(forKey: "read.your.writes.timeout", name: "READ_YOUR_WRITES_TIMEOUT", default: .seconds(2)),
            maxReplicaLag: try reader.seconds(forKey: "max.replica.lag", name: "MAX_REPLICA_LAG", default: .seconds(30)),
            databaseTimeout: try reader.seconds(forKey: "database.timeout", name: "DATABASE_TIMEOUT", default: .seconds(3))
        )
        self.replicaSource = replicaSource
        self.replayTimeout = try reader.seconds(forKey: "replay.timeout", name: "REPLAY_TIMEOUT", default: .seconds(6))
        guard replayTimeout > .zero else {
            throw .invalid("REPLAY_TIMEOUT", reason: "must be more than 0 seconds")
        }
        guard databaseTimeout > .zero else {
            throw .invalid("DATABASE_TIMEOUT", reason: "must be more than 0 seconds")
        }
    }

    /// Where the replica's URL came from.
    public enum ReplicaSource: String, Sendable {
        /// No replica: reads use the primary.
        case none
        /// `REPLICA_DATABASE_URL`.
        case configured
        /// Derived on Fly: the nearest member of the Postgres app behind `DATABASE_URL`.
        case flyNearest = "fly_nearest"
        /// None: on Fly outside the primary region, but `DATABASE_URL`'s host is not a Fly
        /// app host (Managed Postgres, an external database), so there is no replica to derive.
        case notAFlyAppHost = "not_a_fly_app_host"
    }

    /// Why reads use the primary outside the primary region, in words for the start-up log
    /// and the badge (no host names), or `nil` when they do not.
    public var readsFromPrimaryReason: String? {
        guard replicaURL == nil, !regions.isPrimaryRegion else { return nil }
        return switch replicaSource {
        case .notAFlyAppHost:
            "DATABASE_URL is not a Fly Postgres app (.flycast or .internal), so there is no regional replica to find; set REPLICA_DATABASE_URL for one"
        default:
            "no REPLICA_DATABASE_URL is set"
        }
    }
}
