/// What the tracker last learned about the replica connection.
public struct ReplicaStatus: Sendable, Equatable {
    /// Whether the last poll reached the replica.
    public var isReachable: Bool
    /// Whether the server behind the replica connection is in recovery (a real replica).
    /// `false` means that connection reaches a primary, and the badge must say so.
    public var isInRecovery: Bool
    /// The last WAL position the replica has replayed.
    public var replayLSN: LSN?
    /// The primary's current WAL position, when the primary answered.
    public var primaryLSN: LSN?
    /// Seconds since the replica replayed its last transaction, counted only while it is behind.
    public var lagSeconds: Double?

    /// A status from its parts (the tracker's polls make these; tests too).
    ///
    /// - Parameters:
    ///   - isReachable: Whether the poll reached the replica.
    ///   - isInRecovery: Whether that server is a replica (in recovery).
    ///   - replayLSN: Its last replayed position.
    ///   - primaryLSN: The primary's position, if known.
    ///   - lagSeconds: Seconds since its last replayed transaction, while behind.
    public init(isReachable: Bool, isInRecovery: Bool, replayLSN: LSN? = nil, primaryLSN: LSN? = nil, lagSeconds: Double? = nil) {
        self.isReachable = isReachable
        self.isInRecovery = isInRecovery
        self.replayLSN = replayLSN
        self.primaryLSN = primaryLSN
        self.lagSeconds = lagSeconds
    }

    /// How many bytes of WAL the replica has still to replay, when known.
    public var lagBytes: UInt64? {
        guard isInRecovery, let replayLSN, let primaryLSN else { return nil }
        return primaryLSN > replayLSN ? primaryLSN.value - replayLSN.value : 0
    }

    /// Whether the replica has replayed everything the primary had written when polled.
    public var isCaughtUp: Bool {
        guard isReachable else { return false }
        guard isInRecovery else { return true }
        return lagBytes == 0
    }

    /// Whether the replica has replayed `lsn` (a server that is not in recovery has it all).
    public func hasReplayed(_ lsn: LSN) -> Bool {
        guard isReachable else { return false }
        guard isInRecovery else { return true }
        guard let replayLSN else { return false }
        return replayLSN >= lsn
    }

    /// A short human description of the lag, for the badge.
    public var lagDescription: String {
        guard isReachable else { return "unreachable" }
        guard isInRecovery else { return "none (not a replica)" }
        guard let lagBytes else { return "unknown" }
        if lagBytes == 0 { return "caught up" }
        let size = lagBytes < 1024 ? "\(lagBytes) B" : lagBytes < 1_048_576 ? "\(lagBytes / 1024) kB" : "\(lagBytes / 1_048_576) MB"
        if let lagSeconds {
            return lagSeconds < 1 ? "\(size) behind" : "\(size) behind (~\(Int(lagSeconds.rounded())) s)"
        }
        return "\(size) behind"
    }
}
