/// What the machinery could not do, as values an app renders into its own pages.
///
/// None of these carries a host name, a URL or a password: an app can show ``description``.
public enum MultiRegionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A write (or a read that must see the primary) could not reach the primary in time.
    case primaryUnavailable
    /// The primary answered a write with SQLSTATE 25006: it is read-only. `inRecovery` says
    /// what the server itself reports (`pg_is_in_recovery()`): `false` is a fenced primary
    /// (postgres-flex sets `default_transaction_read_only` when it loses quorum), `true` means
    /// `DATABASE_URL` reaches a replica, as during a failover.
    case primaryReadOnly(inRecovery: Bool)
    /// A read could reach neither the replica nor, falling back, the primary.
    case replicaUnavailable
    /// A request that Fly already replayed to this region would have to be replayed again:
    /// the primary region is misconfigured (`PRIMARY_REGION`, or where the primary runs).
    case replayLoop(region: String, primaryRegion: String)
    /// Fly's proxy could not replay a write to the primary region and gave it back to this
    /// instance (`fly-replay-failed`), after `waited` (when it said). `reason` is Fly's:
    /// `timeout`, `retries_exhausted` or `no_candidate`.
    case replayFailed(primaryRegion: String, reason: String, waited: Duration?)

    private static func seconds(_ duration: Duration?) -> String {
        guard let duration else { return "its time limit" }
        let tenths = Int((duration.inSeconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) s"
    }

    /// The description, for logs and people.
    public var description: String {
        switch self {
        case .primaryUnavailable:
            "The primary database cannot be reached right now."
        case .primaryReadOnly(inRecovery: false):
            "The primary database is read-only right now (it fences itself when it cannot reach its standbys), so it refuses writes."
        case .primaryReadOnly(inRecovery: true):
            "The database behind DATABASE_URL is a replica in recovery, not the primary (a failover may be under way), so it refuses writes."
        case .replicaUnavailable:
            "Neither the replica nor the primary database can be reached right now."
        case .replayFailed(let primaryRegion, let reason, let waited):
            switch reason {
            case "timeout":
                "The primary region (\(primaryRegion)) did not take the request within \(Self.seconds(waited)); if you were saving, check whether the change was made before trying again."
            default:
                "The primary region (\(primaryRegion)) could not be reached\(waited.map { " (Fly's proxy tried for \(Self.seconds($0)))" } ?? ""), so nothing was saved."
            }
        case .replayLoop(let region, let primaryRegion):
            "This request was already replayed to this region (\(region)), but it must run in the primary region (\(primaryRegion)). The primary region is misconfigured: check PRIMARY_REGION and where the primary database runs."
        }
    }
}
