/// The changes one read of the log found after the database's position moved.
public struct ChangeBatch<Change: Sendable>: Sendable {
    /// The database's replay position before the read (its WAL position on a primary): every
    /// change committed up to it is in this batch or an earlier one. Server-sent events use it
    /// as their id, so a client that reconnects says where it was.
    public let position: LSN
    /// The new changes, oldest first.
    public let changes: [Change]
    /// Whether this batch brings one returning subscriber up to date: every batch it missed,
    /// merged, at the newest one's position. Every other batch goes to all subscribers alike
    /// (so what is made from it can be shared); this one is that subscriber's own, although
    /// it shares its position with the last batch it merged.
    public let isCatchUp: Bool

    /// A batch from its parts (the feed makes these; tests too).
    ///
    /// - Parameters:
    ///   - position: The position the read was made at.
    ///   - changes: The changes it found.
    ///   - isCatchUp: Whether it merges the batches a returning subscriber missed.
    public init(position: LSN, changes: [Change], isCatchUp: Bool = false) {
        self.position = position
        self.changes = changes
        self.isCatchUp = isCatchUp
    }
}

/// What a ``ChangeSubscription`` yields.
public enum ChangeFeedEvent<Change: Sendable>: Sendable {
    /// New changes, in order.
    case changes(ChangeBatch<Change>)
    /// Nothing changed for a while; the stream is alive (send something, so proxies keep it open).
    case heartbeat
    /// The subscriber missed changes the feed no longer holds (it asked from too far back, the
    /// instance restarted, or it read too slowly): whatever it shows must be read afresh. The
    /// subscription ends after this.
    case reload
}

/// Why ``ChangeFeed/subscribe(after:)`` refused.
public enum ChangeFeedError: Error, Sendable, Equatable {
    /// The feed has as many subscribers as it may have (``ChangeFeed/Configuration/maximumSubscribers``).
    case tooManySubscribers(limit: Int)
    /// The feed has stopped (graceful shutdown).
    case stopped
}
