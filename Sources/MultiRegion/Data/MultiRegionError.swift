/// What the machinery could not do, as values an app renders into its own pages.
///
/// None of these carries a host name, a URL or a password: an app can show ``description``.
public enum MultiRegionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A write (or a read that must see the primary) could not reach the primary in time.
    case primaryUnavailable
    /// A read could reach neither the replica nor, falling back, the primary.
    case replicaUnavailable
    /// A request that Fly already replayed to this region would have to be replayed again:
    /// the primary region is misconfigured (`PRIMARY_REGION`, or where the primary runs).
    case replayLoop(region: String, primaryRegion: String)

    public var description: String {
        switch self {
        case .primaryUnavailable:
            "The primary database cannot be reached right now."
        case .replicaUnavailable:
            "Neither the replica nor the primary database can be reached right now."
        case .replayLoop(let region, let primaryRegion):
            "This request was already replayed to this region (\(region)), but it must run in the primary region (\(primaryRegion)). The primary region is misconfigured: check PRIMARY_REGION and where the primary database runs."
        }
    }
}
