/// What the tracker last learned about the replica connection.
struct ReplicaStatus: Sendable, Equatable {
    /// Whether the last poll reached the replica.
    var isReachable: Bool
    /// Whether the server behind the replica connection is in recovery (a real replica).
    /// `false` means that connection reaches a primary, and the badge must say so.
    var isInRecovery: Bool
    /// The last WAL position the replica has replayed.
    var replayLSN: LSN?
    /// The primary's current WAL position, when the primary answered.
    var primaryLSN: LSN?
    /// Seconds since the replica replayed its last transaction, counted only while it is behind.
    var lagSeconds: Double?

    /// How many bytes of WAL the replica has still to replay, when known.
    var lagBytes: UInt64? {
        guard isInRecovery, let replayLSN, let primaryLSN else { return nil }
        return primaryLSN > replayLSN ? primaryLSN.value - replayLSN.value : 0
    }

    /// Whether the replica has replayed everything the primary had written when polled.
    var isCaughtUp: Bool {
        guard isReachable else { return false }
        guard isInRecovery else { return true }
        return lagBytes == 0
    }

    /// Whether the replica has replayed `lsn` (a server that is not in recovery has it all).
    func hasReplayed(_ lsn: LSN) -> Bool {
        guard isReachable else { return false }
        guard isInRecovery else { return true }
        guard let replayLSN else { return false }
        return replayLSN >= lsn
    }

    /// A short human description of the lag, for the badge.
    var lagDescription: String {
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
