public import MultiRegion

/// What a page's badge shows: where the request ran and which database answered, as the
/// servers themselves report it. The badge's HTML is the app's.
public struct RegionFacts: Sendable, Equatable {
    /// Where this instance runs and where the primary is.
    public let regions: RegionInfo
    /// The database whose answer the page shows. "replica" is only claimed when the server
    /// behind the replica connection is in recovery: a promoted or misconfigured "replica"
    /// shows as the primary it is.
    public let database: DatabaseRole
    /// The replica's lag in words ("caught up", "12 kB behind"); `nil` when there is no replica.
    public let replicaLag: String?
    /// How long the request waited for its own write to reach the replica.
    public let replicationWait: Duration?
    /// Where a replayed request came from.
    public let replayedFrom: String?
    /// The proxy edge that received the request.
    public let edgeRegion: String?
    /// The regions behind the local edge, for a region picker; empty on Fly.
    public let edgeRegions: [String]
    /// Why this region reads from the primary although it is not the primary region.
    public var readsFromPrimaryReason: String?
    /// Whether the page may be older than the reader's own last write (the replica answered
    /// after a failed replay, because the primary could not).
    public var mayBeStale = false

    /// Facts from their parts (tests, and apps that render a badge without a request).
    public init(
        regions: RegionInfo,
        database: DatabaseRole,
        replicaLag: String? = nil,
        replicationWait: Duration? = nil,
        replayedFrom: String? = nil,
        edgeRegion: String? = nil,
        edgeRegions: [String] = []
    ) {
        self.regions = regions
        self.database = database
        self.replicaLag = replicaLag
        self.replicationWait = replicationWait
        self.replayedFrom = replayedFrom
        self.edgeRegion = edgeRegion
        self.edgeRegions = edgeRegions
    }

    /// The facts of one request.
    ///
    /// - Parameters:
    ///   - database: The app's databases.
    ///   - state: The request's `context.multiRegion`.
    ///   - readRole: The database the page shows, when the page says so; else the one that
    ///     answered the request's last call, else where its reads were routed.
    public init(database: MultiRegionDatabase, state: MultiRegionRequestState, readRole: DatabaseRole? = nil) {
        let tracker = database.tracker
        let status = tracker?.status
        var role = readRole ?? state.session?.answeredBy ?? state.session?.readRole ?? .replica
        if tracker == nil || (status?.isReachable == true && status?.isInRecovery == false) {
            role = .primary
        }
        self.regions = database.regions
        self.database = role
        self.replicaLag = tracker == nil ? nil : status?.lagDescription ?? "unknown"
        self.replicationWait = state.replicationWait
        self.replayedFrom = state.replayedFrom
        self.edgeRegion = state.edgeRegion
        self.edgeRegions = state.edgeRegions
        self.readsFromPrimaryReason = database.configuration.readsFromPrimaryReason
        self.mayBeStale = state.session?.mayBeStale ?? false
    }
}
